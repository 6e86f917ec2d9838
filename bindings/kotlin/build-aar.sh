#!/usr/bin/env bash
# Builds an Android library of the Kotlin bindings: target/android/sfbkit-<version>.aar (classes.jar with the
# uniffi-generated Kotlin, jni/<abi>/libsfbkit_ffi.so for arm64-v8a, armeabi-v7a, x86_64 and x86, minSdk 24),
# and the generated Kotlin source next to it (sfbkit-<version>-sources.jar).
#
# Written for a Linux or macOS machine with the Android NDK. It cannot run on the project's Linux machines (no
# NDK can be fetched there) and has not been run; bindings/kotlin/run-tests covers the bindings on the JVM.
#
# Prerequisites:
#   - rustup and cargo; cargo-ndk (installed with `cargo install cargo-ndk --locked` when missing);
#   - the Android NDK r23 or later, ANDROID_NDK_HOME (or ANDROID_NDK_ROOT) set to its root, the directory with
#     source.properties; aws-lc-sys compiles with the NDK's clang (cmake only if it falls back to its CMake build);
#   - a JDK 17 or later (java, jar);
#   - a Kotlin compiler: $KOTLINC, else target/kotlin/kotlin-compiler-2.4.20 (fetched by bindings/kotlin/run-tests),
#     else kotlinc on PATH; its lib/kotlinx-coroutines-core-jvm.jar (or $COROUTINES_JAR) is compiled against;
#   - JNA to compile against: $JNA_JAR, else /usr/share/java/jna.jar, else jna-5.13.0.jar from Maven Central (curl);
#   - for uniffi's Android cleaner (`android = true`: android.system.SystemCleaner from API 34, JNA's cleaner
#     below): an Android SDK platform 34 or later ($ANDROID_JAR, else the highest platforms/android-N/android.jar
#     of $ANDROID_HOME, $ANDROID_SDK_ROOT or the SDK the NDK is in) and androidx.annotation ($ANDROIDX_ANNOTATION_JAR,
#     else annotation-jvm-1.9.1.jar from Google's Maven repository). Without android.jar the Kotlin is generated
#     with uniffi's JVM cleaner (java.lang.ref.Cleaner from API 33, JNA's cleaner below), with a warning.
#
# An app adds the AAR and, since the AAR has no POM and bundles neither, these dependencies itself:
#   implementation("net.java.dev.jna:jna:5.13.0@aar")
#   implementation("org.jetbrains.kotlinx:kotlinx-coroutines-core:<version>")
# The classes carry the metadata of the Kotlin compiler used here (2.4 by default); the app's Kotlin must read it.
# The AAR's proguard.txt keeps the classes JNA reaches by reflection when the app is minified.
set -euo pipefail
cd "$(dirname "$0")/../.."

KOTLIN_VERSION=2.4.20
JNA_VERSION=5.13.0
ANDROIDX_ANNOTATION_VERSION=1.9.1
MIN_SDK=24
ABIS="arm64-v8a armeabi-v7a x86_64 x86"
RUST_TARGETS="aarch64-linux-android armv7-linux-androideabi x86_64-linux-android i686-linux-android"

TARGET="${CARGO_TARGET_DIR:-target}"
case "$TARGET" in /*) ;; *) TARGET="$PWD/$TARGET" ;; esac
OUT="$TARGET/android"
WORK="$OUT/build"
STAGE="$WORK/aar"
CACHE="$OUT/cache"

say() { echo "bindings/kotlin/build-aar.sh: $*" >&2; }
fail() { # a missing prerequisite
  say "$*"
  exit 2
}
die() {
  say "$*"
  exit 1
}

# The NDK.
NDK="${ANDROID_NDK_HOME:-${ANDROID_NDK_ROOT:-}}"
NDK="${NDK%/}"
[ -n "$NDK" ] || fail "the Android NDK is needed: set ANDROID_NDK_HOME (or ANDROID_NDK_ROOT) to its root directory"
[ -f "$NDK/source.properties" ] || fail "$NDK is not an NDK root (no source.properties): set ANDROID_NDK_HOME to it"
ndk_major=$(sed -n 's/^Pkg\.Revision *= *\([0-9][0-9]*\).*/\1/p' "$NDK/source.properties")
[ "${ndk_major:-0}" -ge 23 ] || fail "NDK $NDK is r${ndk_major:-?}: cargo-ndk needs r23 or later"
export ANDROID_NDK_HOME="$NDK"

# The JDK.
command -v java >/dev/null || fail "java not found: install a JDK 17 or later"
command -v jar >/dev/null || fail "jar not found: install a JDK 17 or later (not only a JRE)"
java_major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9][0-9]*\)[."].*/\1/p' | head -1)
[ "${java_major:-0}" -ge 17 ] || fail "java is version ${java_major:-unknown}: a JDK 17 or later is needed"

# The Kotlin compiler and, from its distribution, kotlinx-coroutines.
resolve() { # follows symlinks (readlink -f is not on every macOS)
  local p=$1 l
  while [ -L "$p" ]; do
    l=$(readlink "$p")
    case "$l" in /*) p=$l ;; *) p="$(dirname "$p")/$l" ;; esac
  done
  echo "$p"
}
if [ -n "${KOTLINC:-}" ]; then
  :
elif [ -x "$TARGET/kotlin/kotlin-compiler-$KOTLIN_VERSION/bin/kotlinc-jvm" ]; then
  KOTLINC="$TARGET/kotlin/kotlin-compiler-$KOTLIN_VERSION/bin/kotlinc-jvm"
elif command -v kotlinc >/dev/null; then
  KOTLINC=$(command -v kotlinc)
else
  fail "no Kotlin compiler: set KOTLINC, put kotlinc on PATH, or run bindings/kotlin/run-tests (it fetches $KOTLIN_VERSION)"
fi
case "$KOTLINC" in */*) ;; *) KOTLINC=$(command -v "$KOTLINC") || fail "KOTLINC: no such command" ;; esac
[ -x "$KOTLINC" ] || fail "$KOTLINC is not an executable Kotlin compiler"
KOTLINC=$(resolve "$KOTLINC")
KOTLIN_HOME=$(cd "$(dirname "$KOTLINC")/.." && pwd)
COROUTINES_JAR="${COROUTINES_JAR:-$KOTLIN_HOME/lib/kotlinx-coroutines-core-jvm.jar}"
[ -f "$COROUTINES_JAR" ] || fail "$COROUTINES_JAR not found: set COROUTINES_JAR to a kotlinx-coroutines-core-jvm jar"

fetch_jar() { # $1: URL, $2: file; kept in the cache
  [ -f "$2" ] && return 0
  command -v curl >/dev/null || fail "curl not found: it fetches $(basename "$2") (or set the variable naming that jar)"
  say "fetching $1"
  mkdir -p "$(dirname "$2")"
  curl -fsSL --retry 3 -o "$2.part" "$1"
  mv "$2.part" "$2"
}

if [ -n "${JNA_JAR:-}" ]; then
  [ -f "$JNA_JAR" ] || fail "JNA_JAR=$JNA_JAR does not exist"
elif [ -f /usr/share/java/jna.jar ]; then
  JNA_JAR=/usr/share/java/jna.jar
else
  JNA_JAR="$CACHE/jna-$JNA_VERSION.jar"
  fetch_jar "https://repo1.maven.org/maven2/net/java/dev/jna/jna/$JNA_VERSION/jna-$JNA_VERSION.jar" "$JNA_JAR"
fi

# android.jar (API 34 or later) decides the cleaner.
find_android_jar() {
  local sdk jar dir level best="" best_level=0 ndk_sdk=""
  if [ -n "${ANDROID_JAR:-}" ]; then
    echo "$ANDROID_JAR"
    return
  fi
  case "$NDK" in
    */ndk/*) ndk_sdk="${NDK%/ndk/*}" ;;
    */ndk-bundle) ndk_sdk="${NDK%/ndk-bundle}" ;;
  esac
  for sdk in "${ANDROID_HOME:-}" "${ANDROID_SDK_ROOT:-}" "$ndk_sdk"; do
    [ -n "$sdk" ] || continue
    for jar in "$sdk"/platforms/android-*/android.jar; do
      [ -f "$jar" ] || continue
      dir="${jar%/android.jar}"
      level="${dir##*/android-}"
      level="${level%%[!0-9]*}"
      if [ -n "$level" ] && [ "$level" -ge 34 ] && [ "$level" -gt "$best_level" ]; then
        best=$jar
        best_level=$level
      fi
    done
  done
  echo "$best"
}
ANDROID_JAR=$(find_android_jar)
if [ -n "$ANDROID_JAR" ]; then
  [ -f "$ANDROID_JAR" ] || fail "ANDROID_JAR=$ANDROID_JAR does not exist"
  ANDROID_CLEANER=true
  if [ -n "${ANDROIDX_ANNOTATION_JAR:-}" ]; then
    [ -f "$ANDROIDX_ANNOTATION_JAR" ] || fail "ANDROIDX_ANNOTATION_JAR=$ANDROIDX_ANNOTATION_JAR does not exist"
  else
    ANDROIDX_ANNOTATION_JAR="$CACHE/annotation-jvm-$ANDROIDX_ANNOTATION_VERSION.jar"
    fetch_jar "https://dl.google.com/android/maven2/androidx/annotation/annotation-jvm/$ANDROIDX_ANNOTATION_VERSION/annotation-jvm-$ANDROIDX_ANNOTATION_VERSION.jar" \
      "$ANDROIDX_ANNOTATION_JAR"
  fi
  say "compiling against $ANDROID_JAR, with uniffi's Android cleaner"
else
  ANDROID_CLEANER=false
  say "warning: no Android SDK platform 34 or later (android.jar) found: set ANDROID_HOME or ANDROID_JAR for uniffi's" \
    "Android cleaner; building with its JVM cleaner, which also works on Android"
fi

# Rust: cargo-ndk and the four Android targets.
command -v rustup >/dev/null || fail "rustup not found (https://rustup.rs): it adds the Android targets"
if ! command -v cargo-ndk >/dev/null; then
  say "installing cargo-ndk"
  cargo install cargo-ndk --locked >&2
fi
installed=$(rustup target list --installed)
missing=""
for t in $RUST_TARGETS; do
  printf '%s\n' "$installed" | grep -qx "$t" || missing="$missing $t"
done
if [ -n "$missing" ]; then
  say "adding Rust targets:$missing"
  # shellcheck disable=SC2086 # one word per target
  rustup target add $missing >&2
fi

# The version of sfbkit-ffi (the workspace's).
VERSION=$(cargo metadata --locked --no-deps --format-version 1 2>/dev/null | python3 -c '
import json, sys
print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "sfbkit-ffi"))
' 2>/dev/null) || VERSION=""
if [ -z "$VERSION" ]; then
  VERSION=$(awk '/^\[workspace\.package\]/ { s = 1; next } /^\[/ { s = 0 }
    s && /^version *=/ { gsub(/.*= *"|".*/, ""); print; exit }' Cargo.toml)
fi
[ -n "$VERSION" ] || die "could not read the version of sfbkit-ffi"

rm -rf "$WORK"
mkdir -p "$STAGE/jni"

# The release-mobile profile (Cargo.toml): LTO, optimized for size, debug info out, symbols kept (uniffi reads
# its metadata from the library's symbols; the Android Gradle plugin strips the .so when it packages an APK).
# cargo-ndk links with the NDK's clang for API level $MIN_SDK (16 KB pages on 64-bit ABIs) and copies
# libsfbkit_ffi.so to jni/<abi>/.
ndk_targets=""
for abi in $ABIS; do ndk_targets="$ndk_targets -t $abi"; done
say "building libsfbkit_ffi.so for $ABIS"
# shellcheck disable=SC2086 # "-t ABI" pairs
cargo ndk $ndk_targets -P "$MIN_SDK" -o "$STAGE/jni" build --locked --profile release-mobile -p sfbkit-ffi >&2
for abi in $ABIS; do
  [ -f "$STAGE/jni/$abi/libsfbkit_ffi.so" ] || die "cargo-ndk did not produce jni/$abi/libsfbkit_ffi.so"
done

# The Kotlin, once, from the arm64-v8a library (the metadata is the same in every one). uniffi 0.32's --config
# takes a global config: [crates.<crate>] tables merged over the crate's own ffi/uniffi.toml.
CONFIG="$WORK/uniffi-android.toml"
cat >"$CONFIG" <<EOF
[crates.sfbkit_ffi.bindings.kotlin]
package_name = "org.sfbkit"
cdylib_name = "sfbkit_ffi"
android = $ANDROID_CLEANER
android_cleaner = $ANDROID_CLEANER
EOF
GEN="$WORK/kotlin"
say "generating the Kotlin bindings"
cargo run --locked -q --bin uniffi-bindgen -- generate --library "$STAGE/jni/arm64-v8a/libsfbkit_ffi.so" \
  --language kotlin --out-dir "$GEN" --no-format --config "$CONFIG" >&2
KT="$GEN/org/sfbkit/sfbkit_ffi.kt"
[ -f "$KT" ] || die "uniffi-bindgen did not write $KT"
if [ "$ANDROID_CLEANER" = true ] && ! grep -q 'android.system.SystemCleaner' "$KT"; then
  die "the generated Kotlin has no Android cleaner: uniffi-bindgen ignored $CONFIG"
fi

# classes.jar: the generated Kotlin only (no Kotlin stdlib, JNA or coroutines). The module name keeps its
# META-INF/*.kotlin_module from clashing with other libraries' default "main".
say "compiling the Kotlin with $KOTLINC"
if [ "$ANDROID_CLEANER" = true ]; then
  "$KOTLINC" -nowarn -jvm-target 17 -module-name sfbkit_ffi -no-jdk \
    -cp "$ANDROID_JAR:$JNA_JAR:$COROUTINES_JAR:$ANDROIDX_ANNOTATION_JAR" "$KT" -d "$STAGE/classes.jar" >&2
else
  "$KOTLINC" -nowarn -jvm-target 17 -module-name sfbkit_ffi \
    -cp "$JNA_JAR:$COROUTINES_JAR" "$KT" -d "$STAGE/classes.jar" >&2
fi

cat >"$STAGE/AndroidManifest.xml" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<manifest xmlns:android="http://schemas.android.com/apk/res/android" package="org.sfbkit">
    <uses-sdk android:minSdkVersion="$MIN_SDK"/>
    <uses-permission android:name="android.permission.INTERNET"/>
</manifest>
EOF
: >"$STAGE/R.txt"
cat >"$STAGE/proguard.txt" <<'EOF'
# sfbkit: the uniffi bindings reach the native library through JNA, which uses reflection on these classes.
-keep class org.sfbkit.** { *; }
-keep class com.sun.jna.** { *; }
-keepclassmembers class * extends com.sun.jna.** { public *; }
-dontwarn java.awt.**
-dontwarn androidx.annotation.**
EOF

AAR="$OUT/sfbkit-$VERSION.aar"
SOURCES="$OUT/sfbkit-$VERSION-sources.jar"
rm -f "$AAR" "$SOURCES"
(cd "$STAGE" && jar cfM "$AAR" AndroidManifest.xml classes.jar R.txt proguard.txt jni)
jar cfM "$SOURCES" -C "$GEN" .

say "done:"
echo "  $AAR"
echo "  $SOURCES"
