#include "daemon/object_matcher.h"

#include <algorithm>
#include <utility>

#include "common/status_macros.h"
#include "daemon/allowlist_veto.h"
#include "fmt/format.h"
#include "matcher/content_type.h"
#include "matcher/multi_digester.h"

namespace takedown {
namespace {

// Passes reads through and keeps a copy of the object's bytes when its first
// bytes are an image, up to `max_bytes` (beyond that the copy is dropped).
class ImageCapturingReader final : public ObjectReader {
 public:
  ImageCapturingReader(ObjectReader& inner, std::vector<uint8_t>& out, uint64_t max_bytes)
      : inner_(inner), out_(out), max_bytes_(max_bytes) {
    out_.clear();
  }

  absl::StatusOr<size_t> Read(std::span<uint8_t> buffer) override {
    ASSIGN_OR_RETURN(size_t n, inner_.Read(buffer));
    if (first_ && n > 0) {
      first_ = false;
      std::string_view head(reinterpret_cast<const char*>(buffer.data()), std::min(n, kSniffBytes));
      capturing_ = SniffContentType(head).starts_with("image/");
    }
    if (capturing_ && n > 0) {
      if (out_.size() + n > max_bytes_) {
        capturing_ = false;
        over_limit_ = true;
        out_.clear();
        out_.shrink_to_fit();
      } else {
        out_.insert(out_.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(n));
      }
    }
    return n;
  }

  bool captured() const { return capturing_; }
  bool over_limit() const { return over_limit_; }

 private:
  ObjectReader& inner_;
  std::vector<uint8_t>& out_;
  const uint64_t max_bytes_;
  bool first_ = true;
  bool capturing_ = false;
  bool over_limit_ = false;
};

std::vector<uint8_t>& ThreadImageBuffer() {
  thread_local std::vector<uint8_t> bytes;
  return bytes;
}

std::span<uint8_t> ThreadBuffer(size_t size) {
  thread_local std::vector<uint8_t> buffer;
  if (buffer.size() != size) buffer.assign(size, 0);
  return buffer;
}

}  // namespace

ObjectMatcher::ObjectMatcher(const ExactIndex& index, CaseRecorder& recorder, DaemonMetrics& metrics,
                             PdqMatcher* pdq, const ListPolicies& policies, uint64_t read_buffer_bytes)
    : index_(index),
      recorder_(recorder),
      metrics_(metrics),
      pdq_(pdq),
      policies_(policies),
      read_buffer_bytes_(read_buffer_bytes) {}

absl::StatusOr<HashedObject> ObjectMatcher::Hash(ObjectReader& input, uint64_t max_bytes,
                                                 ObjectRecord& record) const {
  std::vector<uint8_t>& image = ThreadImageBuffer();
  const uint64_t max_image_bytes = pdq_ != nullptr ? pdq_->options().max_image_bytes : 0;
  ImageCapturingReader capturing(input, image, max_image_bytes);
  ObjectReader& reader = pdq_ != nullptr ? static_cast<ObjectReader&>(capturing) : input;
  ASSIGN_OR_RETURN(DigestedObject digested,
                   DigestStream(reader, ThreadBuffer(read_buffer_bytes_), max_bytes));

  record.status = ObjectStatus::kHashed;
  record.error.clear();
  record.size = digested.bytes;
  record.digests = digested.digests;
  record.content_type = std::string(SniffContentType(digested.head));
  HashedObject hashed;
  hashed.head = std::move(digested.head);
  if (pdq_ != nullptr && capturing.over_limit()) {
    record.pdq_outcome = std::string(PdqImageOutcomeName(PdqImageOutcome::kTooLarge));
    record.pdq_message = fmt::format("image is {} bytes, over limits.max_image_bytes ({}); not PDQ-hashed",
                                     record.size, max_image_bytes);
    metrics_.CountError("image_too_large");
  } else if (pdq_ != nullptr && capturing.captured()) {
    absl::StatusOr<PdqImageResult> pdq = pdq_->MatchImage(image);
    if (!pdq.ok()) {
      record.pdq_outcome = "error";
      record.pdq_message = std::string(pdq.status().message());
      metrics_.CountError("pdq_internal");
    } else {
      SetPdqResult(*pdq, record);
      if (pdq->outcome != PdqImageOutcome::kHashed) metrics_.CountError("image_" + record.pdq_outcome);
      hashed.pdq.matches = std::move(pdq->matches);
      hashed.pdq.vetoes = std::move(pdq->vetoes);
    }
  }
  if (image.capacity() > (4u << 20)) {
    image.clear();
    image.shrink_to_fit();  // keep no large image buffer around between objects
  }
  return hashed;
}

absl::Status ObjectMatcher::MatchAndStore(ObjectRecord& record, HashedObject hashed, Store::Batch& batch,
                                          const std::string& actor) const {
  const AllowlistVerdict verdict =
      ApplyAllowlistVeto(index_.Lookup(record.digests), std::move(hashed.pdq), policies_);
  for (const ExactMatch& m : verdict.vetoed_matches) metrics_.CountVeto(m.entry.list_name);
  for (const PdqListMatch& m : verdict.vetoed_pdq_matches) metrics_.CountVeto(m.list_name);
  for (const PdqVeto& v : verdict.pdq_vetoes) metrics_.CountVeto(v.match.list_name);
  record.vetoed_matches = static_cast<uint32_t>(verdict.vetoed_count());
  record.match_count = static_cast<uint32_t>(verdict.matches.size() + verdict.pdq_matches.size());

  // Allowlisted: nothing stands, and the veto is audited with the record.
  if (record.vetoed_matches > 0) {
    return recorder_.RecordVeto(record, verdict.allowlist_hits, verdict.pdq_vetoes, /*write_object=*/true,
                                actor);
  }
  if (record.match_count == 0) {
    batch.Put(Cf::kObjects, ObjectKey(record.source_id, record.key), EncodeObjectRecord(record));
    return absl::OkStatus();
  }
  return recorder_.Record(record, verdict.matches, verdict.pdq_matches, /*write_object=*/true, actor).status();
}

}  // namespace takedown
