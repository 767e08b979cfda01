#include "daemon/object_processor.h"

#include <chrono>
#include <vector>

#include "common/status_macros.h"
#include "fmt/format.h"
#include "matcher/content_type.h"
#include "matcher/multi_digester.h"
#include "matcher/pdq_matcher.h"

namespace takedown {
namespace {

// Counters of an object already stored earlier in this same sweep (before a
// restart): the sweep counts it as it did the first time.
SweepCounters CountersOfStored(const ObjectRecord& r) {
  SweepCounters c;
  c.listed = 1;
  switch (r.status) {
    case ObjectStatus::kHashed:
      c.done = 1;
      c.bytes = r.size;
      c.matches = r.match_count;
      break;
    case ObjectStatus::kFailed:
      c.done = 1;
      c.failed = 1;
      break;
    case ObjectStatus::kSkipped:
      c.skipped = 1;
      break;
  }
  return c;
}

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

ObjectProcessor::ObjectProcessor(Store& store, const ExactIndex& index, CaseRecorder& recorder, Clock& clock,
                                 DaemonMetrics& metrics, ProcessorLimits limits, ProcessorMatching matching)
    : store_(store),
      index_(index),
      recorder_(recorder),
      clock_(clock),
      metrics_(metrics),
      limits_(limits),
      pdq_(matching.pdq),
      policies_(matching.policies != nullptr ? *matching.policies : default_policies_) {}

SweepCounters ObjectProcessor::StoreUnread(ObjectRecord record, ObjectStatus status, std::string error,
                                           Store::Batch& batch) {
  record.status = status;
  record.error = std::move(error);
  batch.Put(Cf::kObjects, ObjectKey(record.source_id, record.key), EncodeObjectRecord(record));
  SweepCounters c;
  c.listed = status == ObjectStatus::kSkipped && record.version.empty() ? 0 : 1;
  if (status == ObjectStatus::kFailed) {
    c.done = 1;
    c.failed = 1;
    metrics_.CountError("object_unreadable");
  } else {
    c.skipped = 1;
    metrics_.CountError("object_skipped");
  }
  return c;
}

absl::StatusOr<SweepCounters> ObjectProcessor::RecordSkipped(const std::string& source_id, std::string_view key,
                                                             std::string_view reason,
                                                             const std::string& sweep_id) {
  ObjectRecord record;
  record.source_id = source_id;
  record.key = std::string(key);
  record.sweep_id = sweep_id;
  record.swept_at = clock_.Now();
  Store::Batch batch;
  SweepCounters c = StoreUnread(std::move(record), ObjectStatus::kSkipped, std::string(reason), batch);
  RETURN_IF_ERROR(store_.Write(std::move(batch), /*sync=*/false));
  return c;
}

absl::StatusOr<SweepCounters> ObjectProcessor::Process(Source& source, const ObjectRef& ref,
                                                       const std::string& sweep_id) {
  ASSIGN_OR_RETURN(std::vector<SweepCounters> counters,
                   ProcessChunk(source, std::span<const ObjectRef>(&ref, 1), sweep_id, /*lookup_previous=*/true));
  return counters.front();
}

absl::StatusOr<std::vector<SweepCounters>> ObjectProcessor::ProcessChunk(Source& source,
                                                                         std::span<const ObjectRef> refs,
                                                                         const std::string& sweep_id,
                                                                         bool lookup_previous) {
  std::vector<std::optional<std::string>> previous(refs.size());
  if (lookup_previous && !refs.empty()) {
    std::vector<std::string> keys;
    keys.reserve(refs.size());
    for (const ObjectRef& ref : refs) keys.push_back(ObjectKey(ref.source_id, ref.key));
    ASSIGN_OR_RETURN(previous, store_.MultiGet(Cf::kObjects, keys));
  }
  Store::Batch batch;
  std::vector<SweepCounters> counters;
  counters.reserve(refs.size());
  for (size_t i = 0; i < refs.size(); ++i) {
    ASSIGN_OR_RETURN(SweepCounters c, ProcessOne(source, refs[i], sweep_id, previous[i], batch));
    counters.push_back(c);
  }
  if (!batch.Empty()) RETURN_IF_ERROR(store_.Write(std::move(batch), /*sync=*/false));
  return counters;
}

absl::StatusOr<SweepCounters> ObjectProcessor::ProcessOne(Source& source, const ObjectRef& ref,
                                                          const std::string& sweep_id,
                                                          const std::optional<std::string>& stored,
                                                          Store::Batch& batch) {
  if (stored) {
    absl::StatusOr<ObjectRecord> previous = DecodeObjectRecord(*stored);
    if (previous.ok() && previous->version == ref.version) {
      if (previous->sweep_id == sweep_id) return CountersOfStored(*previous);
      if (previous->status == ObjectStatus::kHashed) {
        SweepCounters c;
        c.listed = 1;
        c.unchanged = 1;
        metrics_.CountUnchanged(ref.source_id);
        return c;
      }
    }
  }

  ObjectRecord record;
  record.source_id = ref.source_id;
  record.key = ref.key;
  record.version = ref.version;
  record.size = ref.size;
  record.sweep_id = sweep_id;
  record.swept_at = clock_.Now();

  if (ref.size > limits_.max_object_bytes) {
    return StoreUnread(std::move(record), ObjectStatus::kSkipped,
                       fmt::format("object is {} bytes, over limits.max_object_bytes ({})", ref.size,
                                   limits_.max_object_bytes),
                       batch);
  }
  absl::StatusOr<std::unique_ptr<ObjectReader>> reader = source.Open(ref);
  if (!reader.ok()) {
    return StoreUnread(std::move(record), ObjectStatus::kFailed, std::string(reader.status().message()), batch);
  }
  auto started = std::chrono::steady_clock::now();
  std::vector<uint8_t>& image = ThreadImageBuffer();
  const uint64_t max_image_bytes = pdq_ != nullptr ? pdq_->options().max_image_bytes : 0;
  ImageCapturingReader capturing(**reader, image, max_image_bytes);
  ObjectReader& input = pdq_ != nullptr ? static_cast<ObjectReader&>(capturing) : **reader;
  absl::StatusOr<DigestedObject> digested =
      DigestStream(input, ThreadBuffer(limits_.read_buffer_bytes), limits_.max_object_bytes);
  if (!digested.ok()) {
    bool over_limit = digested.status().code() == absl::StatusCode::kResourceExhausted;
    return StoreUnread(std::move(record), over_limit ? ObjectStatus::kSkipped : ObjectStatus::kFailed,
                       std::string(digested.status().message()), batch);
  }
  metrics_.ObserveDigestSeconds(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());

  record.status = ObjectStatus::kHashed;
  record.size = digested->bytes;
  record.digests = digested->digests;
  record.content_type = std::string(SniffContentType(digested->head));
  std::vector<ExactMatch> matches = index_.Lookup(record.digests);
  std::vector<ExactMatch> allowed;
  std::erase_if(matches, [&](const ExactMatch& m) {
    if (!policies_.IsAllowlist(m.entry.list_name)) return false;
    allowed.push_back(m);
    return true;
  });

  std::vector<PdqListMatch> pdq_matches;
  std::vector<PdqVeto> pdq_vetoes;
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
      pdq_matches = std::move(pdq->matches);
      pdq_vetoes = std::move(pdq->vetoes);
    }
  }
  if (image.capacity() > (4u << 20)) {
    image.clear();
    image.shrink_to_fit();  // keep no large image buffer around between objects
  }

  if (!allowed.empty() && (!matches.empty() || !pdq_matches.empty())) {
    // The object is on an allowlist: every match is vetoed, and the veto
    // recorded.
    record.vetoed_matches = static_cast<uint32_t>(matches.size() + pdq_matches.size());
    for (const ExactMatch& m : matches) metrics_.CountVeto(m.entry.list_name);
    for (const PdqListMatch& m : pdq_matches) metrics_.CountVeto(m.list_name);
    matches.clear();
    pdq_matches.clear();
  }
  for (const PdqVeto& v : pdq_vetoes) metrics_.CountVeto(v.match.list_name);
  record.vetoed_matches += static_cast<uint32_t>(pdq_vetoes.size());

  record.match_count = static_cast<uint32_t>(matches.size() + pdq_matches.size());
  const bool all_vetoed = record.vetoed_matches > 0 && record.match_count == 0;
  if (record.vetoed_matches > 0) {
    RETURN_IF_ERROR(recorder_.RecordVeto(record, allowed, pdq_vetoes, /*write_object=*/all_vetoed,
                                         "sweep:" + sweep_id));
  }
  if (record.match_count == 0) {
    if (!all_vetoed) batch.Put(Cf::kObjects, ObjectKey(record.source_id, record.key), EncodeObjectRecord(record));
  } else {
    RETURN_IF_ERROR(
        recorder_.Record(record, matches, pdq_matches, /*write_object=*/true, "sweep:" + sweep_id).status());
  }
  metrics_.CountSwept(ref.source_id, record.size);

  SweepCounters c;
  c.listed = 1;
  c.done = 1;
  c.bytes = record.size;
  c.matches = record.match_count;
  return c;
}

}  // namespace takedown
