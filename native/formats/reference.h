// Image references and digests: the only place where a string from the database or the
// caller becomes (part of) a file name. Grammar: Docker's distribution/reference; the
// normalization is the one msb's OCI client applies (format spec §3.1).
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace msb {

struct ParsedReference {
  std::string domain;  // registry host[:port] as written, or empty when none was written
  std::string path;    // repository path as written
  std::string tag;     // empty when none
  std::string digest;  // empty when none
};

// Parses `ref` by Docker's reference grammar; nullopt when it is not a reference.
std::optional<ParsedReference> ParseReference(std::string_view ref);

// `registry/repository[:tag][@digest]` with docker.io defaults and `:latest` when neither a
// tag nor a digest is given; nullopt when `ref` is not a reference.
std::optional<std::string> NormalizeReference(std::string_view ref);

// True for `sha256:` + 64 lowercase hex or `sha512:` + 128 lowercase hex: the only digests
// this library ever turns into file names.
bool IsValidDigest(std::string_view digest);

// `sha256:ab..` -> `sha256_ab..`. Precondition: IsValidDigest(digest).
std::string DigestFileStem(std::string_view digest);

// Stem of manifests/<stem>.json for a normalized reference: hex(sha256(normalized)).
std::string MetadataFileStem(std::string_view normalized);

// The inverse of DigestFileStem for names found on disk: `sha256_ab..` -> `sha256:ab..`, only
// when the result is a valid digest.
std::optional<std::string> DigestOfFileStem(std::string_view stem);

// True for the 64 lowercase hex characters of a metadata file stem.
bool IsMetadataFileStem(std::string_view stem);

inline bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace msb
