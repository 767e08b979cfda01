// Source: a place where stored objects live (a directory tree, an S3 bucket,
// a list of URLs). A source lists objects in a stable total order of keys
// (CompareKeys) and opens them for streaming reads.
//
// The order matters for resumption: the daemon persists the key of the last
// object whose result is durably stored (the low watermark) and, after a
// restart, calls List(after = that key) so no object is skipped.
//
// Implementations are safe for concurrent Open() calls from several workers
// while one thread runs List().
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/object_reader.h"
#include "common/object_ref.h"

namespace takedown {

// Receives what List() finds. Called on the listing thread only.
class ListingSink {
 public:
  virtual ~ListingSink() = default;
  // An object to consider. Returning false stops the listing early (List then
  // returns OK): used for shutdown.
  virtual bool OnObject(ObjectRef ref) = 0;
  // Something under the source that is not an object and will not be read
  // (special file, symlink leaving the root, unreadable directory), with why.
  virtual void OnSkipped(std::string_view key, std::string_view reason) = 0;
};

class Source {
 public:
  virtual ~Source() = default;

  virtual const std::string& id() const = 0;

  // Lists every object whose key orders strictly after `after` (all objects
  // when `after` is empty), in CompareKeys order. Returns an error only when
  // the listing as a whole cannot go on (root missing, credentials refused).
  virtual absl::Status List(std::string_view after, ListingSink& sink) = 0;

  // Opens the object for reading. NotFound if it vanished since listing.
  virtual absl::StatusOr<std::unique_ptr<ObjectReader>> Open(const ObjectRef& ref) = 0;

  // The ObjectRef List() would report for `key` now, without listing: for
  // targeted scans of keys pushed by an event (a new upload, a bucket
  // notification). The version is the one List() gives, so unchanged objects
  // are recognised. NotFound when no such object exists now; InvalidArgument
  // or FailedPrecondition (with why) for a key List() would never report
  // (outside the source, not selected, not a regular object). The default is
  // Unimplemented. Safe to call concurrently with List() and Open().
  virtual absl::StatusOr<ObjectRef> Stat(std::string_view key) {
    (void)key;
    return absl::UnimplementedError("this source cannot look up single keys; sweep it instead");
  }

  // <0, 0, >0 as `a` orders before, equal to, after `b` in listing order.
  virtual int CompareKeys(std::string_view a, std::string_view b) const = 0;
};

using SourcePtr = std::unique_ptr<Source>;

}  // namespace takedown
