#!/usr/bin/env bash
# Writes the man pages chaperone(1) and chaperone-<command>(1) into OUTDIR
# from what the built binary itself prints: `chaperone --help`,
# `chaperone <command> --help` and `chaperone config --markdown` (the
# property table).  Generated at build time, never committed, so the pages
# cannot disagree with --help or docs/configuration.md.
#
#   scripts/mkman.sh path/to/chaperone OUTDIR
set -euo pipefail

bin=$1
out=$2
mkdir -p "$out"
version=$("$bin" --version | sed -n '1s/^chaperone \([^ ]*\).*/\1/p')
date=$(date -u -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}" +%Y-%m-%d)
md=$("$bin" config --markdown)

# troff-safe text: backslashes, and a leading dot or quote.
esc() { sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }

# The rows of the markdown table under "## <title>" as .TP entries.
keys_of() {
  printf '%s\n' "$md" | awk -v want="$1" '
    /^## / { on = (index($0, "## " want) == 1); next }
    on && /^\| `/ {
      n = split($0, c, "|")
      for (i = 2; i < n; i++) { gsub(/^ +| +$/, "", c[i]); gsub(/`/, "", c[i]); gsub(/\*\(empty\)\*/, "empty", c[i]) }
      if (n >= 8)       # key, type, default, range, applies to, description
        printf ".TP\n.B %s\n%s, default %s (%s).\n%s\n", c[2], c[3], c[4], c[5], c[7]
      else              # prefix families: key, applies to, description
        printf ".TP\n.B %s\n%s\n", c[2], c[4]
    }' | sed -e 's/\\/\\e/g'
}

header() { # name section-title
  printf '.TH %s 1 "%s" "chaperone %s" "Chaperone"\n' "$(echo "$1" | tr a-z A-Z)" "$date" "$version"
}

verbatim() { printf '.nf\n'; esc; printf '.fi\n'; }

# The command list as "name<TAB>summary" from the usage text.
commands=$("$bin" --help | awk '/^commands:/ {on=1; next} on && /^  [a-z]/ {
  name=$1; $1=""; sub(/^ +/, ""); print name "\t" $0 } on && /^$/ {on=0}')

{
  header chaperone
  printf '.SH NAME\nchaperone \\- audit a Kafka pipeline: did every message arrive at every stage, and how late\n'
  printf '.SH SYNOPSIS\n'
  "$bin" --help | verbatim
  printf '.SH DESCRIPTION\nEvery stage of a Kafka pipeline (a tier) counts the messages it sees per topic into buckets of event time and publishes the counts as audit messages; the collector stores them in a database, and report and check compare the tiers.\n'
  printf '.SH COMMANDS\n'
  while IFS=$'\t' read -r name summary; do
    printf '.TP\n.BR chaperone\\-%s (1)\n%s\n' "$name" "$summary"
  done <<<"$commands"
  printf '.SH CONFIGURATION\nKeys read by every component; each command page lists its own.\n'
  keys_of "Prefix families"
  keys_of "Common"
  printf '.SH SEE ALSO\n.BR kcat (1),\n/usr/share/doc/chaperone\n'
} >"$out/chaperone.1"

while IFS=$'\t' read -r name summary; do
  page=$out/chaperone-$name.1
  {
    header "chaperone-$name"
    printf '.SH NAME\nchaperone\\-%s \\- %s\n' "$name" "$(printf '%s' "$summary" | esc)"
    printf '.SH SYNOPSIS\n'
    "$bin" "$name" --help 2>&1 | verbatim || true
    case $name in
      worker) section="Worker" ;;
      controller) section="Controller" ;;
      collector) section="Collector" ;;
      report|check) section="Report" ;;
      *) section="" ;;
    esac
    if [ -n "$section" ]; then
      printf '.SH CONFIGURATION\n'
      keys_of "$section"
      printf '.PP\nand the common keys of\n.BR chaperone (1).\n'
    fi
    printf '.SH SEE ALSO\n.BR chaperone (1)\n'
  } >"$page"
done <<<"$commands"
