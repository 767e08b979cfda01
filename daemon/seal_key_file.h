// Seal key files: the AES-256 key that seals preserved content
// (daemon/sealed_file.h), kept as 64 hex digits in a file only its owner can
// read. The daemon loads it at start (config `preservation.key_file`);
// `takedownctl preservation keygen` writes a new one and `... decrypt` uses
// it for handover.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "daemon/sealed_file.h"

namespace takedown {

// NotFound when the file is missing; PermissionDenied when group or others
// may read or write it (it says to chmod 600) or it is not a regular file;
// InvalidArgument, naming the file, when it does not hold exactly 64 hex
// digits (one trailing newline allowed).
absl::StatusOr<SealKey> LoadSealKeyFile(const std::string& path);

// Writes a fresh random key to `path` (created 0600, never overwritten:
// AlreadyExists when the file exists) and returns it.
absl::StatusOr<SealKey> WriteNewSealKeyFile(const std::string& path);

}  // namespace takedown
