// Parameterized systolic MAC array: the RTL anchor of models/systolic.
//
// ROWS x COLS processing elements. Each PE multiplies two signed operands
// (A_BITS, B_BITS wide) and accumulates in ACC_BITS two's complement.
// DATAFLOW selects the stationary register of the PE:
//   0 (os): output stationary. A rows enter from the left, B columns from the top,
//           both skewed by one cycle per row/column; each PE keeps its own sum.
//   1 (ws): weight stationary. A ROWS x COLS tile of B is shifted in from the top
//           in ROWS cycles and held; rows of A enter from the left, skewed; partial
//           sums move down and leave the bottom edge.
//   2 (is): input stationary. The same PE grid as ws, with a tile of A^T held in
//           the PEs and rows of B^T streamed from the left.
// The operands live in on-chip memories loaded through the a_*/b_* write ports;
// C = A (m x k) * B (k x n) is read back through c_addr/c_rdata.
//
// Schedule, per fold (fold order: column folds outer, row folds inner):
//   os: K + ROWS + COLS - 2 cycles; results are copied out on the first cycle of
//       the next fold, so one extra cycle follows the last fold.
//   ws: 2*ROWS + COLS + M - 2 cycles (ROWS weight load, then the skewed stream).
//   is: 2*ROWS + COLS + N - 2 cycles.
// These are the per-fold row counts of SCALE-Sim v2's demand matrices; `cycles`
// counts the clock edges from the edge that samples `start` (exclusive) to the
// edge that raises `done` (inclusive). docs/systolic.md derives the relation.
module systolic_array #(
    parameter int ROWS = 4,
    parameter int COLS = 4,
    parameter int DATAFLOW = 0,
    parameter int A_BITS = 8,
    parameter int B_BITS = 8,
    parameter int ACC_BITS = 32,
    parameter int MAXM = 64,
    parameter int MAXN = 64,
    parameter int MAXK = 64
) (
    input  logic                       clk,
    input  logic                       rst,
    input  logic                       start,
    input  logic [15:0]                m,
    input  logic [15:0]                n,
    input  logic [15:0]                k,
    input  logic                       a_we,
    input  logic [31:0]                a_addr,   // row * MAXK + col
    input  logic signed [A_BITS-1:0]   a_wdata,
    input  logic                       b_we,
    input  logic [31:0]                b_addr,   // row * MAXN + col
    input  logic signed [B_BITS-1:0]   b_wdata,
    input  logic [31:0]                c_addr,   // row * MAXN + col
    output logic signed [ACC_BITS-1:0] c_rdata,
    output logic                       busy,
    output logic                       done,
    output logic [31:0]                cycles
);
  localparam int OS = 0, WS = 1;  // 2: is
  // Operands moving through the grid carry the wider of the two formats.
  localparam int OPW = (A_BITS > B_BITS) ? A_BITS : B_BITS;

  logic signed [A_BITS-1:0]   amem [MAXM*MAXK];
  logic signed [B_BITS-1:0]   bmem [MAXK*MAXN];
  logic signed [ACC_BITS-1:0] cmem [MAXM*MAXN];
  assign c_rdata = cmem[c_addr];

  // Operand-matrix view of the dataflow (see models/systolic/systolic.h).
  int sr, sc, tt, row_folds, col_folds, fold_len;
  always_comb begin
    case (DATAFLOW)
      OS: begin sr = int'(m); sc = int'(n); tt = int'(k); end
      WS: begin sr = int'(k); sc = int'(n); tt = int'(m); end
      default: begin sr = int'(k); sc = int'(m); tt = int'(n); end
    endcase
    row_folds = (sr + ROWS - 1) / ROWS;
    col_folds = (sc + COLS - 1) / COLS;
    fold_len = (DATAFLOW == OS) ? tt + ROWS + COLS - 2 : 2 * ROWS + COLS + tt - 2;
  end

  // Controller state.
  logic running, flushing, have_prev;
  int t, fr, fc, prev_fr, prev_fc;

  // PE registers.
  logic signed [ACC_BITS-1:0] acc   [ROWS][COLS];  // os: output stationary sum
  logic signed [ACC_BITS-1:0] ps    [ROWS][COLS];  // ws/is: partial sum moving down
  logic signed [OPW-1:0]      xa    [ROWS][COLS];  // operand moving right
  logic signed [OPW-1:0]      xb    [ROWS][COLS];  // os: operand moving down
  logic signed [ACC_BITS-1:0] w     [ROWS][COLS];  // ws/is: stationary operand

  // Edge inputs for the current cycle (zero outside the valid window).
  logic signed [ACC_BITS-1:0] left_in [ROWS];
  logic signed [ACC_BITS-1:0] top_in  [COLS];

  function automatic logic signed [ACC_BITS-1:0] a_at(int r, int c);
    return ACC_BITS'(amem[r * MAXK + c]);
  endfunction
  function automatic logic signed [ACC_BITS-1:0] b_at(int r, int c);
    return ACC_BITS'(bmem[r * MAXN + c]);
  endfunction

  always_comb begin
    for (int i = 0; i < ROWS; i++) begin
      int row, kk;
      left_in[i] = '0;
      row = fr * ROWS + i;
      if (DATAFLOW == OS) begin
        kk = t - i;
        if (kk >= 0 && kk < tt && row < sr) left_in[i] = a_at(row, kk);
      end else begin
        kk = t - ROWS - i;  // stream index p
        if (kk >= 0 && kk < tt && row < sr)
          left_in[i] = (DATAFLOW == WS) ? a_at(kk, row) : b_at(row, kk);
      end
    end
    for (int j = 0; j < COLS; j++) begin
      int col, kk, srow;
      top_in[j] = '0;
      srow = 0;
      col = fc * COLS + j;
      if (DATAFLOW == OS) begin
        kk = t - j;
        if (kk >= 0 && kk < tt && col < sc) top_in[j] = b_at(kk, col);
      end else if (t < ROWS) begin
        srow = fr * ROWS + (ROWS - 1 - t);  // bottom row of the tile enters first
        if (srow < sr && col < sc)
          top_in[j] = (DATAFLOW == WS) ? b_at(srow, col) : a_at(col, srow);
      end
    end
  end

  // Controller phases visible to the PEs.
  logic step;  // a schedule cycle executes at this edge
  assign step = running && !flushing;

  // ---------------------------------------------------------------- PE grid
  // x moves right, y (os) moves down; ps (ws/is) accumulates down the column.
  logic signed [ACC_BITS-1:0] bottom_sum [COLS];  // ws/is: sum leaving column j now
  for (genvar gi = 0; gi < ROWS; gi++) begin : g_row
    for (genvar gj = 0; gj < COLS; gj++) begin : g_pe
      logic signed [ACC_BITS-1:0] x_in, y_in, prod, sum;
      assign x_in = (gj == 0) ? left_in[gi] : ACC_BITS'(xa[gi][gj-1]);
      if (DATAFLOW == OS) begin : g_os
        assign y_in = (gi == 0) ? top_in[gj] : ACC_BITS'(xb[gi-1][gj]);
        assign prod = x_in * y_in;
        assign sum = '0;
      end else begin : g_ws
        assign y_in = w[gi][gj];
        assign prod = x_in * y_in;
        assign sum = ((gi == 0) ? '0 : ps[gi-1][gj]) + prod;
      end
      if (gi == ROWS - 1) begin : g_bottom
        assign bottom_sum[gj] = sum;
      end
      always_ff @(posedge clk) begin
        if (rst || (start && !busy)) begin
          acc[gi][gj] <= '0; ps[gi][gj] <= '0; xa[gi][gj] <= '0; xb[gi][gj] <= '0;
          w[gi][gj] <= '0;
        end else if (step) begin
          xa[gi][gj] <= OPW'(x_in);
          if (DATAFLOW == OS) begin
            // The first operand pair of a fold reaches PE(i,j) at cycle i+j.
            acc[gi][gj] <= (t == gi + gj) ? prod : acc[gi][gj] + prod;
            xb[gi][gj] <= OPW'(y_in);
          end else begin
            // Weight load: the tile shifts down one row per cycle for ROWS cycles.
            if (t < ROWS) w[gi][gj] <= (gi == 0) ? top_in[gj] : w[gi-1][gj];
            ps[gi][gj] <= sum;
          end
        end
      end
    end
  end

  // ----------------------------------------------------- output write-back
  // ws/is: column j's bottom PE finishes stream index p = t - (2*ROWS-1) - j.
  // The first row fold writes, later row folds accumulate, so C needs no
  // clearing between products.
  logic        wb_valid [COLS];
  logic [31:0] wb_addr  [COLS];
  always_comb begin
    for (int j = 0; j < COLS; j++) begin
      wb_valid[j] = step && DATAFLOW != OS && t - (2 * ROWS - 1) - j >= 0 &&
                    t - (2 * ROWS - 1) - j < tt && fc * COLS + j < sc;
      wb_addr[j] = (DATAFLOW == WS)
                       ? 32'((t - (2 * ROWS - 1) - j) * MAXN + fc * COLS + j)
                       : 32'((fc * COLS + j) * MAXN + t - (2 * ROWS - 1) - j);
    end
  end
  // os: the previous fold's sums are copied out on the first cycle of the next
  // fold, or in the flush cycle after the last fold.
  logic copy_out;
  assign copy_out = DATAFLOW == OS && have_prev && ((running && t == 0) || flushing);
  always_ff @(posedge clk) begin
    for (int j = 0; j < COLS; j++)
      if (wb_valid[j]) cmem[wb_addr[j]] <= (fr == 0) ? bottom_sum[j] : cmem[wb_addr[j]] + bottom_sum[j];
    if (copy_out)
      for (int i = 0; i < ROWS; i++)
        for (int j = 0; j < COLS; j++)
          if (prev_fr * ROWS + i < sr && prev_fc * COLS + j < sc)
            cmem[(prev_fr * ROWS + i) * MAXN + prev_fc * COLS + j] <= acc[i][j];
  end

  // ------------------------------------------------------------ controller
  always_ff @(posedge clk) begin
    if (rst) begin
      running <= 1'b0; flushing <= 1'b0; busy <= 1'b0; done <= 1'b0; have_prev <= 1'b0;
      cycles <= '0; t <= 0; fr <= 0; fc <= 0; prev_fr <= 0; prev_fc <= 0;
    end else begin
      if (a_we) amem[a_addr] <= a_wdata;
      if (b_we) bmem[b_addr] <= b_wdata;
      if (start && !busy) begin
        running <= 1'b1; busy <= 1'b1; done <= 1'b0; have_prev <= 1'b0;
        cycles <= '0; t <= 0; fr <= 0; fc <= 0;
      end else if (flushing) begin
        cycles <= cycles + 1;
        flushing <= 1'b0; busy <= 1'b0; done <= 1'b1;
      end else if (running) begin
        cycles <= cycles + 1;
        if (t == fold_len - 1) begin
          t <= 0; prev_fr <= fr; prev_fc <= fc; have_prev <= 1'b1;
          if (fr == row_folds - 1) begin
            fr <= 0;
            if (fc == col_folds - 1) begin
              fc <= 0; running <= 1'b0;
              if (DATAFLOW == OS) flushing <= 1'b1;
              else begin busy <= 1'b0; done <= 1'b1; end
            end else fc <= fc + 1;
          end else fr <= fr + 1;
        end else t <= t + 1;
      end
    end
  end
endmodule
