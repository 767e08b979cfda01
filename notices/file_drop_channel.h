// FileDropChannel: delivers each notice as one file, <directory>/<notice id>.json,
// holding the notice payload as pretty-printed JSON with a trailing newline.
// A receiver (a hotline's pickup job, an SFTP sync, a human) picks files up
// from the directory and should ignore names starting with '.', which are
// files still being written.
//
// Guarantees:
//  - Atomic: the final name appears only with complete, fsync'ed content
//    (write to a temporary name, fsync, rename without replacing, fsync the
//    directory). A crash leaves either nothing or a hidden temporary file,
//    which the next Create() removes once its writer process is gone.
//  - Idempotent: delivering a notice whose file already exists with identical
//    bytes returns OK (after making sure it is durable); with different bytes
//    it returns AlreadyExists and leaves the delivered file untouched.
//  - Error codes follow NoticeChannel: file-system failures during Deliver are
//    transient (Unavailable; ResourceExhausted when the disk or quota is full),
//    since an operator can fix them and the notice should then go out on its
//    own; a notice for another channel, an unsafe id or a conflicting file is
//    permanent.
//
// Thread-safe: Deliver may run concurrently, also for the same notice.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "notices/channel.h"
#include "notices/notice.h"

namespace takedown {

class FileDropChannel final : public NoticeChannel {
 public:
  // Creates `directory` and missing parents (mode 0750, subject to the umask)
  // and removes stale temporary files of dead writers. `name` is the channel
  // name notices are addressed to. Errors name the path and the system error:
  // FailedPrecondition if the path exists but is not a directory,
  // PermissionDenied if it is not writable.
  static absl::StatusOr<std::unique_ptr<FileDropChannel>> Create(
      std::string directory, std::string name = std::string(kDefaultNoticeChannel));

  std::string_view name() const override { return name_; }
  const std::string& directory() const { return directory_; }

  // Writes the notice's file as described above. InvalidArgument if
  // notice.channel is not name() or the id is not IsSafeNoticeId.
  absl::Status Deliver(const Notice& notice) override;

  // The exact bytes Deliver writes for `notice`. Notices from
  // MakeDetectionNotice are valid UTF-8; any other invalid UTF-8 in a payload
  // is written as U+FFFD rather than failing the delivery.
  static std::string Render(const Notice& notice);

 private:
  FileDropChannel(std::string directory, std::string name);

  // Constant after construction.
  const std::string directory_;
  const std::string name_;
};

}  // namespace takedown
