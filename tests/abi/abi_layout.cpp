// abi_layout.cpp - the layout assertions compiled as C++.
#include "abi_layout.h"
