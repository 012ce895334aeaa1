#include "formats/reference.h"

#include "formats/sha256.h"

namespace msb {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }
bool IsHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool IsWord(char c) { return IsAlnum(c) || c == '_'; }

// path-component := [a-z0-9]+ (separator [a-z0-9]+)*, separator := [_.] | __ | [-]+
bool IsPathComponent(std::string_view s) {
  size_t i = 0, n = s.size();
  if (n == 0 || !IsLowerAlnum(s[0])) return false;
  while (i < n) {
    while (i < n && IsLowerAlnum(s[i])) i++;
    if (i == n) return true;
    size_t start = i;
    if (s[i] == '.') {
      i++;
    } else if (s[i] == '_') {
      i++;
      if (i < n && s[i] == '_') i++;
    } else if (s[i] == '-') {
      while (i < n && s[i] == '-') i++;
    } else {
      return false;
    }
    if (i == start || i == n || !IsLowerAlnum(s[i])) return false;
  }
  return true;
}

bool IsRepositoryPath(std::string_view s) {
  if (s.empty()) return false;
  size_t start = 0;
  while (true) {
    size_t slash = s.find('/', start);
    std::string_view part = s.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (!IsPathComponent(part)) return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

// domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
bool IsDomainComponent(std::string_view s) {
  if (s.empty() || !IsAlnum(s.front()) || !IsAlnum(s.back())) return false;
  for (char c : s) {
    if (!IsAlnum(c) && c != '-') return false;
  }
  return true;
}

// host [":" port], host := domain-name | "[" IPv6 "]"
bool IsDomain(std::string_view s) {
  std::string_view host = s, port;
  if (!s.empty() && s[0] == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos || close < 2) return false;
    for (char c : s.substr(1, close - 1)) {
      if (!IsHex(c) && c != ':') return false;
    }
    std::string_view rest = s.substr(close + 1);
    if (rest.empty()) return true;
    if (rest[0] != ':') return false;
    port = rest.substr(1);
    if (port.empty()) return false;
    for (char c : port) {
      if (c < '0' || c > '9') return false;
    }
    return true;
  }
  size_t colon = s.find(':');
  if (colon != std::string_view::npos) {
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
    if (port.empty()) return false;
    for (char c : port) {
      if (c < '0' || c > '9') return false;
    }
  }
  if (host.empty()) return false;
  size_t start = 0;
  while (true) {
    size_t dot = host.find('.', start);
    if (!IsDomainComponent(host.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start))) {
      return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// tag := [\w][\w.-]{0,127}. msb's client (Rust regex) takes \w as Unicode: any non-ASCII
// character counts as a word character here, and the limit counts characters, not bytes.
bool IsTag(std::string_view s) {
  if (s.empty()) return false;
  size_t chars = 0;
  for (size_t i = 0; i < s.size(); i++) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c & 0xC0) != 0x80) chars++;  // not a UTF-8 continuation byte
    bool word = c >= 0x80 || IsWord(char(c));
    if (i == 0 ? !word : !word && c != '.' && c != '-') return false;
  }
  return chars <= 128;
}

// digest := algorithm ":" hex{32,}, algorithm := component ([+._-] component)*,
// component := [A-Za-z][A-Za-z0-9]*
bool IsReferenceDigest(std::string_view s) {
  size_t colon = s.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view algo = s.substr(0, colon), hex = s.substr(colon + 1);
  bool atStart = true;
  for (char c : algo) {
    if (atStart) {
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return false;
      atStart = false;
    } else if (c == '+' || c == '.' || c == '_' || c == '-') {
      atStart = true;
    } else if (!IsAlnum(c)) {
      return false;
    }
  }
  if (atStart || hex.size() < 32) return false;
  for (char c : hex) {
    if (!IsHex(c)) return false;
  }
  return true;
}

}  // namespace

std::optional<ParsedReference> ParseReference(std::string_view ref) {
  ParsedReference out;
  std::string_view rest = ref;
  size_t at = rest.find('@');
  if (at != std::string_view::npos) {
    std::string_view digest = rest.substr(at + 1);
    if (!IsReferenceDigest(digest)) return std::nullopt;
    out.digest = std::string(digest);
    rest = rest.substr(0, at);
  }
  size_t lastSlash = rest.rfind('/');
  size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos && (lastSlash == std::string_view::npos || colon > lastSlash)) {
    std::string_view tag = rest.substr(colon + 1);
    if (!IsTag(tag)) return std::nullopt;
    out.tag = std::string(tag);
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) return std::nullopt;
  size_t firstSlash = rest.find('/');
  std::string_view path = rest;
  if (firstSlash != std::string_view::npos) {
    std::string_view first = rest.substr(0, firstSlash);
    bool isDomain = first.find('.') != std::string_view::npos || first.find(':') != std::string_view::npos ||
                    first == "localhost";
    if (isDomain) {
      if (!IsDomain(first)) return std::nullopt;
      out.domain = std::string(first);
      path = rest.substr(firstSlash + 1);
    } else if (first.substr(0, 1) != "[" && !IsPathComponent(first) && IsDomain(first)) {
      // Like msb's client: the grammar lets a first component with capitals match as a
      // registry, but the split keeps it in the repository (`Foo/bar` -> docker.io/Foo/bar).
      // Not a bracketed host without a port (`[fe1]/x`): msb and Docker both reject those, and
      // `docker.io/[fe1]/x` would not parse again (found by fuzz/reference_fuzzer.cc).
      if (!IsRepositoryPath(rest.substr(firstSlash + 1))) return std::nullopt;
      out.path = std::string(rest);
      return out;
    }
  }
  if (!IsRepositoryPath(path)) return std::nullopt;
  out.path = std::string(path);
  return out;
}

std::optional<std::string> NormalizeReference(std::string_view ref) {
  std::optional<ParsedReference> p = ParseReference(ref);
  if (!p) return std::nullopt;
  std::string domain = p->domain.empty() || p->domain == "index.docker.io" ? "docker.io" : p->domain;
  std::string path = p->path;
  if (domain == "docker.io" && path.find('/') == std::string::npos) path = "library/" + path;
  if (path.size() > 255) return std::nullopt;  // msb's client limits the repository, not the whole name
  std::string out = domain + "/" + path;
  if (!p->tag.empty()) {
    out += ":" + p->tag;
  } else if (p->digest.empty()) {
    out += ":latest";
  }
  if (!p->digest.empty()) out += "@" + p->digest;
  return out;
}

// Every character a lowercase hex digit, without a branch per character: in a digest, digits and letters
// alternate at random, and a branch on which one it is would often be mispredicted (diskUsage checks
// about a million digests at 100,000 images).
static bool AllLowerHex(std::string_view s) {
  bool ok = true;
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    ok &= (static_cast<unsigned char>(c - '0') < 10) | (static_cast<unsigned char>(c - 'a') < 6);
  }
  return ok;
}

bool IsValidDigest(std::string_view digest) {
  size_t hexLen;
  if (digest.substr(0, 7) == "sha256:") {
    hexLen = 64;
  } else if (digest.substr(0, 7) == "sha512:") {
    hexLen = 128;
  } else {
    return false;
  }
  return digest.size() == 7 + hexLen && AllLowerHex(digest.substr(7));
}

std::string DigestFileStem(std::string_view digest) {
  std::string out(digest);
  out[6] = '_';
  return out;
}

std::string MetadataFileStem(std::string_view normalized) { return Sha256Hex(normalized); }

std::optional<std::string> DigestOfFileStem(std::string_view stem) {
  if (stem.size() < 8 || stem[6] != '_') return std::nullopt;
  std::string d(stem);
  d[6] = ':';
  if (!IsValidDigest(d)) return std::nullopt;
  return d;
}

bool IsMetadataFileStem(std::string_view stem) {
  return stem.size() == 64 && AllLowerHex(stem);
}

}  // namespace msb
