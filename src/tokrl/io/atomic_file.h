// Whole-file reads and crash-safe whole-file writes.
//
// WriteFileAtomic(path, bytes) replaces `path` so that a reader (or a run
// resumed after a crash or power loss) sees either the complete old contents
// or the complete new contents, never a mix or a truncated file:
//   1. the bytes go to a fresh temporary file in the same directory as `path`
//      (named ".<filename>.tmp.<pid>.<n>", created with mode 0666 & ~umask),
//   2. the temporary file is fsync'ed and closed,
//   3. it is rename()d over `path` (atomic on POSIX within one file system),
//   4. the directory is fsync'ed so the rename itself is durable.
// The old file, if any, is untouched until step 3. On any failure the
// temporary file is removed and a tokrl::Error naming `path` and the system
// error is thrown; `path` then still holds its old contents (or still does
// not exist). The parent directory must exist; it is not created.
//
// Concurrent WriteFileAtomic calls on the same path are safe in the sense
// that the last rename wins and every reader sees one complete version.
// Symbolic links at `path` are replaced by a regular file, not followed.
#ifndef TOKRL_IO_ATOMIC_FILE_H_
#define TOKRL_IO_ATOMIC_FILE_H_

#include <filesystem>
#include <string>
#include <string_view>

namespace tokrl::io {

// Atomically replaces (or creates) `path` with `bytes`. See the file comment.
void WriteFileAtomic(const std::filesystem::path& path, std::string_view bytes);

// fsyncs a directory so that renames and creations in it survive a power
// loss (best effort: file systems that refuse it are ignored).
void SyncDirectory(const std::filesystem::path& dir);

// Returns the whole contents of `path` as raw bytes. Throws tokrl::Error
// naming `path` and the system error if it cannot be opened or read
// (missing, a directory, no permission, I/O error).
std::string ReadFile(const std::filesystem::path& path);

}  // namespace tokrl::io

#endif  // TOKRL_IO_ATOMIC_FILE_H_
