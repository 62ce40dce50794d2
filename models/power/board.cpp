#include "models/power/board.h"

namespace tessera {

void register_board_power(Registry& r) {
  r.add(make_impl<BoardPower>(
      "power", "board", "static power drawn while on, and the board power limit",
      {p_qty("static_power", Unit::watts, "0W", "power drawn whenever the device is on").non_negative(),
       p_qty("power_limit", Unit::watts, "0W", "sustained board power limit (0 = none)").non_negative()}));
}

}  // namespace tessera
