#include "daemon/source_content_action.h"

#include <vector>

#include "common/status_macros.h"
#include "crawler/filesystem_actions.h"
#include "crawler/filesystem_source.h"
#include "crawler/s3_source.h"
#include "fmt/format.h"

namespace takedown {
namespace {

absl::Status ExecuteOnS3(S3Source& source, const std::string& key, ContentActionKind kind,
                         const SourceContentActionOptions& options) {
  absl::StatusOr<ObjectRef> ref = source.Stat(key);
  if (!ref.ok()) {
    if (absl::IsNotFound(ref.status()) && kind == ContentActionKind::kDelete) return absl::OkStatus();
    return ref.status();
  }
  switch (kind) {
    case ContentActionKind::kDelete:
      return source.Delete(*ref);
    case ContentActionKind::kQuarantine:
      return source.Quarantine(*ref).status();
    case ContentActionKind::kDisable: {
      ASSIGN_OR_RETURN(auto tags, source.GetTags(*ref));
      std::vector<std::pair<std::string, std::string>> updated;
      for (auto& tag : tags) {
        if (tag.first != options.s3_disable_tag.first) updated.push_back(std::move(tag));
      }
      updated.push_back(options.s3_disable_tag);
      return source.PutTags(*ref, updated);
    }
  }
  return absl::InternalError("unknown content action");
}

absl::Status ExecuteOnFilesystem(FilesystemSource& source, const std::string& key, ContentActionKind kind,
                                 const SourceContentActionOptions& options) {
  switch (kind) {
    case ContentActionKind::kDelete:
      return DeleteSourceFile(source, key);
    case ContentActionKind::kDisable:
      return DisableSourceFileAccess(source, key);
    case ContentActionKind::kQuarantine:
      if (options.filesystem_quarantine_dir.empty()) {
        return absl::FailedPreconditionError(fmt::format(
            "source {}: quarantine needs a directory outside the source; set orders.quarantine_dir",
            source.id()));
      }
      return QuarantineSourceFile(source, key, options.filesystem_quarantine_dir).status();
  }
  return absl::InternalError("unknown content action");
}

}  // namespace

SourceContentAction::SourceContentAction(std::function<Source*(std::string_view)> lookup,
                                         SourceContentActionOptions options)
    : lookup_(std::move(lookup)), options_(std::move(options)) {}

absl::Status SourceContentAction::Execute(const ContentTarget& target, ContentActionKind kind) {
  Source* source = lookup_(target.source_id);
  if (source == nullptr) {
    return absl::NotFoundError(fmt::format("no source '{}' is configured; cannot {} {}", target.source_id,
                                           ContentActionKindName(kind), target.key));
  }
  absl::Status done;
  if (auto* fs = dynamic_cast<FilesystemSource*>(source)) {
    done = ExecuteOnFilesystem(*fs, target.key, kind, options_);
  } else if (auto* s3 = dynamic_cast<S3Source*>(source)) {
    done = ExecuteOnS3(*s3, target.key, kind, options_);
  } else {
    return absl::FailedPreconditionError(fmt::format(
        "source {} lists URLs of other hosts; takedownd cannot {} content there. Remove it at the host and "
        "record the removal (takedownctl cases removed)",
        target.source_id, ContentActionKindName(kind)));
  }
  if (done.ok()) return done;
  return absl::Status(done.code(), fmt::format("{} {} on source {}: {}", ContentActionKindName(kind),
                                               target.key, target.source_id, std::string(done.message())));
}

}  // namespace takedown
