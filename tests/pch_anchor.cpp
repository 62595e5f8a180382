// Compiled with the precompiled doctest header so that the test binaries can reuse it.
#include <doctest/doctest.h>
