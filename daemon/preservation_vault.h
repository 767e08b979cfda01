// PreservationVault: where removed content is kept, sealed (AES-256-GCM,
// daemon/sealed_file.h), when a legal profile requires the provider to
// preserve it (TCO Art. 6: six months). Layout:
//
//   <dir>/<case id>/<n>.sealed     0400 files in 0700 directories
//
// A sealing is written to a hidden temporary file and appears under its
// final name only once complete and fsynced, so a crash leaves no partial
// sealed file (a leftover `.partial-*` is removed by the next Open()). The
// case records the location; Erase() deletes it when the preservation
// period ends. docs/preservation.md.
//
// Thread-safe: sealings of different cases, or of one case, run
// concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "daemon/sealed_file.h"

namespace takedown {

struct SealedContent {
  std::string location;    // absolute path of the sealed file
  std::string key_id;      // hex
  uint64_t bytes = 0;      // plaintext bytes
  std::string sha256_hex;  // of the plaintext
};

class PreservationVault {
 public:
  class Sealing;

  // `dir` must be an absolute path; it is created 0700 if missing.
  // InvalidArgument / PermissionDenied naming the directory otherwise.
  static absl::StatusOr<std::unique_ptr<PreservationVault>> Open(const std::string& dir, const SealKey& key);

  // Starts sealing content for `case_id` ([A-Za-z0-9_-], 1..128 bytes);
  // `context` (at most kMaxSealContextBytes) is kept in clear in the file.
  absl::StatusOr<Sealing> Begin(std::string_view case_id, std::string_view context);

  // The newest sealed file of `case_id` whose location is not in `known`
  // (one sealed before a crash kept the removal from being recorded),
  // opened to check it and to take its size and digest; nullopt when there
  // is none. DataLoss when that file fails authentication.
  absl::StatusOr<std::optional<SealedContent>> FindUnrecorded(std::string_view case_id,
                                                              const std::vector<std::string>& known) const;

  // Deletes a sealed file this vault holds. OK when it is already gone;
  // InvalidArgument for a location outside the vault.
  absl::Status Erase(const std::string& location);

  const std::string& dir() const { return dir_; }
  std::string key_id() const;

 private:
  PreservationVault(std::string dir, const SealKey& key) : dir_(std::move(dir)), key_(key) {}

  const std::string dir_;
  const SealKey key_;
};

class PreservationVault::Sealing {
 public:
  Sealing(Sealing&&) noexcept;
  Sealing& operator=(Sealing&&) noexcept;
  // Removes the temporary file unless committed.
  ~Sealing();

  absl::Status Append(std::span<const uint8_t> bytes);
  // Finishes the file and gives it its final name.
  absl::StatusOr<SealedContent> Commit();

 private:
  friend class PreservationVault;
  struct State;
  explicit Sealing(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace takedown
