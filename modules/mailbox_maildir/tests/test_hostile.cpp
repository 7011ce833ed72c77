#include "maildir_fixture.hpp"
