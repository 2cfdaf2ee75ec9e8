#include "CSQLiteExt.h"
