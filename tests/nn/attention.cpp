// Tests for nn/attention.hpp (filled in below).
#include <doctest/doctest.h>
