// EROFS images (format spec §4.1): the superblock fields this library needs and msb's
// validity test for a layer or fsmeta file.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace msb {

inline constexpr uint32_t kErofsMagic = 0xE0F5E1E2;
inline constexpr uint64_t kErofsSuperblockOffset = 1024;
// Device tables with more slots than this are not read (far above msb's layer limit; bounds the read).
inline constexpr uint32_t kMaxErofsDevices = 4096;

struct ErofsDevice {
  uint32_t blocks = 0;
  uint32_t mappedBlkaddr = 0;
};

struct ErofsInfo {
  bool valid = false;
  std::string problem;       // why it is not valid (empty when valid)
  uint64_t imageBytes = 0;   // blocks << blkszbits (0 when the superblock is unreadable)
  uint8_t blkszbits = 0;
  uint32_t blocks = 0;
  uint16_t rootNid = 0;
  uint32_t metaBlkaddr = 0;
  uint32_t featureIncompat = 0;
  std::vector<ErofsDevice> devices;  // fsmeta: one slot per layer
};

// Reads `size` bytes at `offset` into `buf`; returns the count read (short at end of file)
// or -1 on error.
using ReadAt = std::function<long(uint64_t offset, void* buf, size_t size)>;

// msb's test: length > 0 and a multiple of 4096, magic matches, root inode is a directory;
// plus blocks << blkszbits == length (true of every file msb writes).
ErofsInfo InspectErofs(const ReadAt& read, uint64_t fileSize);

// Same, on an open file descriptor (regular file check included).
ErofsInfo InspectErofsFd(int fd);

}  // namespace msb
