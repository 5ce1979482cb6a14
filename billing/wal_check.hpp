// A read-only check of a database's write-ahead log (the -wal file) for damage that makes
// SQLite ignore committed transactions without an error.
#pragma once

#include <optional>
#include <string>

namespace relaygw::billing {

// Reads `database_path`-wal frame by frame, as SQLite's WAL recovery reads it (SQLite file
// format, "The Write-Ahead Log"), and returns a message that names the file, the damage and
// the fix. Returns nullopt when the file is missing, empty, unreadable or intact.
//
// SQLite stops reading the log at the first frame whose salts or checksum do not match, or
// at a frame cut short, and silently ignores every frame after it. That is damage when a
// frame that commits a transaction is lost: the bad frame itself, or a later frame of the
// same log generation (the header's salts) whose checksum follows from its predecessor's.
// Frames left behind by a rolled-back transaction or by an earlier log generation commit
// nothing and are not reported.
//
// Run it before SQLite opens the database for writing: a writer overwrites the ignored
// frames, and the last connection to close checkpoints the log and deletes it. The check
// opens no SQLite connection and takes no lock, and it reads the file twice when it finds
// damage, reporting it only when both reads agree, so that frames a writer was appending
// meanwhile are not taken for damage.
// NOTE: a writer that appends for longer than the pause between the two reads can still
// make a cut frame look like damage. A power loss under PRAGMA synchronous=NORMAL may also
// lose the last committed transaction by design, and that is reported as damage too.
std::optional<std::string> check_wal_file(const std::string& database_path);

}  // namespace relaygw::billing
