//===- main.cpp - bin/attnc-opt -------------------------------------------===//
#include "AttncOptMain.h"

int main(int argc, char **argv) { return attnc::attncOptMain(argc, argv); }
