{
  "variables": {"msb_no_inotify%": 0},
  # Two targets: the vendored SQLite amalgamation as its own static library (built without
  # node-gyp's -Wall -Wextra, which add ~45% to a 9 MB translation unit), and the addon.
  "targets": [
    {
      "target_name": "sqlite3",
      "type": "static_library",
      "sources": ["deps/sqlite/sqlite3.c"],
      "include_dirs": ["deps/sqlite"],
      "cflags!": ["-Wall", "-Wextra"],
      "cflags": ["-O2", "-fvisibility=hidden", "-fPIC", "-w"],
      "defines": [
        "SQLITE_THREADSAFE=2",
        "SQLITE_DEFAULT_FOREIGN_KEYS=1",
        "SQLITE_DEFAULT_WAL_SYNCHRONOUS=1",
        "SQLITE_DEFAULT_MEMSTATUS=0",
        "SQLITE_DQS=0",
        "SQLITE_LIKE_DOESNT_MATCH_BLOBS",
        "SQLITE_OMIT_DEPRECATED",
        "SQLITE_OMIT_LOAD_EXTENSION",
        "SQLITE_OMIT_SHARED_CACHE",
        "SQLITE_USE_ALLOCA",
        "SQLITE_MAX_EXPR_DEPTH=0"
      ],
      "direct_dependent_settings": {
        "include_dirs": ["deps/sqlite"]
      }
    },
    {
      "target_name": "msb_image_cache",
      "dependencies": ["sqlite3"],
      # native/ by layer (CONTRIBUTING "Layout"; test/unit/native-layers.test.ts keeps the order).
      "sources": [
        "native/addon/addon.cc",
        "native/addon/image_cache.cc",
        "native/operations/op_close.cc",
        "native/operations/op_disk_usage.cc",
        "native/operations/op_get.cc",
        "native/operations/op_inspect.cc",
        "native/operations/op_list.cc",
        "native/operations/op_prune.cc",
        "native/operations/op_remove.cc",
        "native/operations/op_verify.cc",
        "native/runtime/cache_state.cc",
        "native/write_path/cache_sweep.cc",
        "native/write_path/in_flight.cc",
        "native/write_path/removal.cc",
        "native/storage/artifact_deleter.cc",
        "native/storage/budget.cc",
        "native/storage/cache_walk.cc",
        "native/storage/catalog.cc",
        "native/storage/home.cc",
        "native/storage/sqlite_db.cc",
        "native/formats/erofs.cc",
        "native/formats/reference.cc",
        "native/formats/sha256.cc",
        "native/formats/timestamp.cc",
        "native/formats/vmdk.cc",
        "native/base/errors.cc"
      ],
      "include_dirs": ["native", "<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O2", "-fvisibility=hidden"],
      "conditions": [
        # Only the two Node-API entry points leave the addon; GNU ld's flag, so Linux only.
        ["OS=='linux'", {"ldflags": ["-Wl,--exclude-libs,ALL"]}],
        # `npm install` on a Mac with the Command Line Tools: Xcode's settings, not cflags.
        ["OS=='mac'", {
          "xcode_settings": {
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "CLANG_CXX_LIBRARY": "libc++",
            "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
            "GCC_ENABLE_CPP_RTTI": "YES",
            "GCC_SYMBOLS_PRIVATE_EXTERN": "YES",
            "GCC_OPTIMIZATION_LEVEL": "2",
            "MACOSX_DEPLOYMENT_TARGET": "11.0"
          }
        }],
        # The in-flight guard's rescan fallback (macOS's path) built on Linux, for CI:
        # npm run build -- --msb_no_inotify=1
        ["msb_no_inotify==1", {"defines": ["MSB_NO_INOTIFY"]}]
      ]
    }
  ]
}
