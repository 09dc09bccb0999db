//===- main.cpp - bin/attnc -----------------------------------------------===//
#include "AttncMain.h"

int main(int argc, char **argv) { return attnc::attncMain(argc, argv); }
