#!/usr/bin/env bash
# Builds the Swift package of sfbkit for iOS and macOS: sfbkitFFI.xcframework (static libraries for the iOS
# device, the iOS simulator and macOS, with sfbkitFFI.h and its module map), SfbKit.swift, and a Package.swift.
#
# Runs on macOS with Xcode only. It cannot run on the project's Linux machines (no Apple SDK there) and has not
# been run; bindings/swift/run-checks covers what Linux can check (header, exported symbols, generated files).
#
# Prerequisites:
#   - macOS with Xcode, selected with `sudo xcode-select -s /Applications/Xcode.app` (the Command Line Tools
#     alone have no iOS SDK and no xcodebuild), with the iOS platform installed;
#   - rustup and cargo (the script adds the five Apple targets);
#   - cmake, only if aws-lc-sys falls back to its CMake build (its cc build covers the Apple targets).
#
# Outputs, in target/apple (or $CARGO_TARGET_DIR/apple):
#   sfbkitFFI.xcframework   ios-arm64, ios-arm64_x86_64-simulator, macos-arm64_x86_64
#   Sources/SfbKit/SfbKit.swift
#   Package.swift           swift-tools-version 5.9; library product SfbKit; iOS 15, macOS 12
# An app adds target/apple as a local package (or copies the three items into its own package).
set -euo pipefail
cd "$(dirname "$0")/../.."

TARGET="${CARGO_TARGET_DIR:-target}"
OUT="$TARGET/apple"
WORK="$TARGET/apple-build"
IOS_DEVICE=aarch64-apple-ios
IOS_SIM="aarch64-apple-ios-sim x86_64-apple-ios"
MACOS="aarch64-apple-darwin x86_64-apple-darwin"
ALL_TARGETS="$IOS_DEVICE $IOS_SIM $MACOS"

say() { echo "bindings/swift/build-xcframework.sh: $*" >&2; }
fail() { # a missing prerequisite
  say "$*"
  exit 2
}
die() {
  say "$*"
  exit 1
}

[ "$(uname -s)" = Darwin ] || fail "runs on macOS only: it needs Xcode's iOS and macOS SDKs, lipo and xcodebuild"
command -v xcodebuild >/dev/null || fail "xcodebuild not found: install Xcode"
xcodebuild -version >/dev/null 2>&1 ||
  fail "xcodebuild does not run (only the Command Line Tools selected?): sudo xcode-select -s /Applications/Xcode.app"
xcrun --sdk iphoneos --show-sdk-path >/dev/null 2>&1 || fail "no iOS SDK: install the iOS platform in Xcode"
xcrun --sdk iphonesimulator --show-sdk-path >/dev/null 2>&1 || fail "no iOS simulator SDK: install it in Xcode"
command -v lipo >/dev/null || fail "lipo not found (part of Xcode)"
command -v rustup >/dev/null || fail "rustup not found (https://rustup.rs): it adds the Apple targets"
command -v cargo >/dev/null || fail "cargo not found"

installed=$(rustup target list --installed)
missing=""
for t in $ALL_TARGETS; do
  printf '%s\n' "$installed" | grep -qx "$t" || missing="$missing $t"
done
if [ -n "$missing" ]; then
  say "adding Rust targets:$missing"
  # shellcheck disable=SC2086 # one word per target
  rustup target add $missing >&2
fi

export IPHONEOS_DEPLOYMENT_TARGET=15.0
export MACOSX_DEPLOYMENT_TARGET=12.0
# The release-mobile profile (Cargo.toml): LTO, optimized for size, debug info out, symbols kept (uniffi reads its
# metadata from the library's symbols; the app's link drops what it does not use).

rm -rf "$WORK"
mkdir -p "$WORK"

# `cargo rustc` builds exactly what `cargo build -p sfbkit-ffi --lib` builds, and has rustc name the system
# libraries and frameworks the static library needs (they go into Package.swift's linker settings).
for t in $ALL_TARGETS; do
  say "building $t"
  CARGO_TERM_COLOR=never cargo rustc --locked --profile release-mobile -p sfbkit-ffi --lib --target "$t" \
    -- --print native-static-libs 2>&1 | tee "$WORK/build-$t.log" >&2
  [ -f "$TARGET/$t/release-mobile/libsfbkit_ffi.a" ] || die "$TARGET/$t/release-mobile/libsfbkit_ffi.a was not built"
done

# The bindings, once, from the macOS library of this Mac's architecture (the metadata is the same in every one).
case "$(uname -m)" in
  arm64) HOST_TARGET=aarch64-apple-darwin ;;
  *) HOST_TARGET=x86_64-apple-darwin ;;
esac
GEN="$WORK/generated"
say "generating the Swift bindings from $TARGET/$HOST_TARGET/release-mobile/libsfbkit_ffi.dylib"
cargo run --locked -q --bin uniffi-bindgen -- generate --library "$TARGET/$HOST_TARGET/release-mobile/libsfbkit_ffi.dylib" \
  --language swift --out-dir "$GEN" --no-format >&2
for f in SfbKit.swift sfbkitFFI.h sfbkitFFI.modulemap; do
  [ -f "$GEN/$f" ] || die "uniffi-bindgen did not write $f"
  cmp -s "$GEN/$f" "bindings/swift/generated/$f" ||
    say "warning: bindings/swift/generated/$f differs from what was generated now (bindings/swift/run-checks --update)"
done

# Fat libraries: one per platform variant in an XCFramework.
mkdir -p "$WORK/ios-simulator" "$WORK/macos"
lipo -create "$TARGET/aarch64-apple-ios-sim/release-mobile/libsfbkit_ffi.a" "$TARGET/x86_64-apple-ios/release-mobile/libsfbkit_ffi.a" \
  -output "$WORK/ios-simulator/libsfbkit_ffi.a"
lipo -create "$TARGET/aarch64-apple-darwin/release-mobile/libsfbkit_ffi.a" "$TARGET/x86_64-apple-darwin/release-mobile/libsfbkit_ffi.a" \
  -output "$WORK/macos/libsfbkit_ffi.a"

# Headers: the header and uniffi's module map, which an XCFramework needs named module.modulemap. The
# `use "_Builtin_stdbool"` / `use "_Builtin_stdint"` lines are left out: a module map needs no `use` lines, and
# with Xcode 26 they can keep the module from building (mozilla/uniffi-rs#2917).
HEADERS="$WORK/headers"
mkdir -p "$HEADERS"
cp "$GEN/sfbkitFFI.h" "$HEADERS/"
grep -v '^[[:space:]]*use "_Builtin_std' "$GEN/sfbkitFFI.modulemap" >"$HEADERS/module.modulemap"

mkdir -p "$OUT"
rm -rf "$OUT/sfbkitFFI.xcframework" "$OUT/Sources"
xcodebuild -create-xcframework \
  -library "$TARGET/$IOS_DEVICE/release-mobile/libsfbkit_ffi.a" -headers "$HEADERS" \
  -library "$WORK/ios-simulator/libsfbkit_ffi.a" -headers "$HEADERS" \
  -library "$WORK/macos/libsfbkit_ffi.a" -headers "$HEADERS" \
  -output "$OUT/sfbkitFFI.xcframework" >&2

mkdir -p "$OUT/Sources/SfbKit"
cp "$GEN/SfbKit.swift" "$OUT/Sources/SfbKit/"

# Linker settings from rustc's native-static-libs note ("-framework Security -liconv -lSystem ..."); libSystem,
# libc and libm are linked into every Apple binary anyway. Falls back to a list read from the dependencies'
# link attributes if the note is missing (cargo replays it from its cache, but only as long as the cache holds).
native_libs() { # $1: target; prints "framework NAME" / "library NAME", sorted
  sed -n 's/.*native-static-libs: //p' "$WORK/build-$1.log" | tail -1 | tr ' ' '\n' | awk '
    prev == "-framework" { print "framework " $0; prev = ""; next }
    $0 == "-framework" { prev = $0; next }
    /^-l/ { lib = substr($0, 3); if (lib != "System" && lib != "c" && lib != "m") print "library " lib }
  ' | LC_ALL=C sort -u
}
native_libs "$IOS_DEVICE" >"$WORK/native-ios.txt"
native_libs "$HOST_TARGET" >"$WORK/native-macos.txt"
if [ ! -s "$WORK/native-ios.txt" ] || [ ! -s "$WORK/native-macos.txt" ]; then
  say "warning: rustc's native-static-libs note not found; using the known list of frameworks and libraries"
  printf '%s\n' "framework CoreFoundation" "framework Foundation" "framework Security" \
    "framework SystemConfiguration" "library iconv" "library objc" | LC_ALL=C sort -u >"$WORK/native-macos.txt"
  printf '%s\n' "framework Network" | LC_ALL=C sort -u - "$WORK/native-macos.txt" >"$WORK/native-ios.txt"
fi
setting() { # $1: framework|library, $2: name, $3: platform condition or empty
  local kind=linkedLibrary
  [ "$1" = framework ] && kind=linkedFramework
  if [ -n "$3" ]; then
    printf '                .%s("%s", .when(platforms: [%s])),\n' "$kind" "$2" "$3"
  else
    printf '                .%s("%s"),\n' "$kind" "$2"
  fi
}
{
  LC_ALL=C comm -12 "$WORK/native-ios.txt" "$WORK/native-macos.txt" | while read -r kind name; do setting "$kind" "$name" ""; done
  LC_ALL=C comm -23 "$WORK/native-ios.txt" "$WORK/native-macos.txt" | while read -r kind name; do setting "$kind" "$name" ".iOS"; done
  LC_ALL=C comm -13 "$WORK/native-ios.txt" "$WORK/native-macos.txt" | while read -r kind name; do setting "$kind" "$name" ".macOS"; done
} >"$WORK/linker-settings.txt"

{
  cat <<'EOF'
// swift-tools-version:5.9
// Written by bindings/swift/build-xcframework.sh: SfbKit (the uniffi-generated Swift) over sfbkitFFI, the Rust
// static library of sfbkit-ffi with its C header.
import PackageDescription

let package = Package(
    name: "SfbKit",
    platforms: [.iOS(.v15), .macOS(.v12)],
    products: [
        .library(name: "SfbKit", targets: ["SfbKit"]),
    ],
    targets: [
        .binaryTarget(name: "sfbkitFFI", path: "sfbkitFFI.xcframework"),
        .target(
            name: "SfbKit",
            dependencies: ["sfbkitFFI"],
            path: "Sources/SfbKit",
            linkerSettings: [
EOF
  cat "$WORK/linker-settings.txt"
  cat <<'EOF'
            ]
        ),
    ]
)
EOF
} >"$OUT/Package.swift"

say "done:"
echo "  $OUT/sfbkitFFI.xcframework"
echo "  $OUT/Sources/SfbKit/SfbKit.swift"
echo "  $OUT/Package.swift"
