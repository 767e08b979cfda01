// RunHashCommand: `takedownctl hash [--mode exact|fast] [--dihedral] [--json]
// FILE...`, which hashes local files the way the daemon does, without a
// daemon: MD5, SHA-1 and SHA-256 of the bytes, and for images the PDQ hash
// and its quality.
//
// Per file one line on `out`:
//   md5=<hex> sha1=<hex> sha256=<hex> pdq=<hex> quality=<n> file=<path>
// With --dihedral the seven other variants follow pdq=, named as the columns
// of shared/vectors/pdq/MANIFEST.tsv: pdq_rot90= pdq_rot180= pdq_rot270=
// pdq_flipx= pdq_flipy= pdq_flipplus1= pdq_flipminus1=. A file that is not an
// image (by its magic bytes) has pdq=- quality=- (and - for each variant).
// With --json, `out` gets one JSON array with an object per file instead
// (pdq and quality are null for non-images; "dihedral" maps the variant names
// to hashes).
//
// --mode exact (default) is bit-identical with the PDQ reference; --mode fast
// decodes JPEGs at reduced size (matcher/pdq_fast.h) and is only close.
//
// Errors name the file and go to `err`: unreadable files, files over
// kMaxHashFileBytes (refused unread), images that cannot be decoded (their
// digests are still printed, with pdq=-) or exceed the decoder's default
// max_image_pixels. Returns 0 if every file was hashed, 1 if any failed, 2 on
// a usage error.
//
// `args` are the words after "hash". Thread-compatible.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace takedown {

inline constexpr uint64_t kMaxHashFileBytes = uint64_t{256} << 20;

int RunHashCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// The same, writing to std::cout and std::cerr.
int RunHashCommand(const std::vector<std::string>& args);

}  // namespace takedown
