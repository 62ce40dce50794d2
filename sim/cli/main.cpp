#include <iostream>

#include "sim/cli/cli.h"

int main(int argc, char** argv) { return tessera::cli_main(argc, argv, std::cout, std::cerr); }
