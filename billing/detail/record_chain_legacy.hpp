// The trigger-kept record_chain table of schemas 5 and 6, used only by migration 7 to check
// that table before it is dropped.
#pragma once

#include <vector>

#include "billing/record_chain.hpp"

struct sqlite3;

namespace relaygw::billing {

// Tables the schema 5 triggers copied, with the columns each copy held, in backfill order.
const std::vector<ChainedTable>& legacy_chained_tables();

// Compares every table with its copies in record_chain and checks that table's hashes.
Result<RecordCheck> check_legacy_record_chain(sqlite3* db);

}  // namespace relaygw::billing
