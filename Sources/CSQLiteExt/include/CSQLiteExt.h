#ifndef LECTERN_CSQLITEEXT_H
#define LECTERN_CSQLITEEXT_H
// Filled in by the vector extension issue: sqlite3ext.h wrappers.
#include <sqlite3ext.h>
#endif
