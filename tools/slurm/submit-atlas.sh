#!/bin/bash
# Submits a sharded `fmviz atlas` run to Slurm: an array job of N tasks (tools/slurm/atlas.sbatch, shard i of N into
# OUT/shard-i), then the merge (tools/slurm/atlas-merge.sbatch, into OUT/merged) that starts only once every task has
# succeeded. Prints the two job ids. See tools/slurm/README.md; --help lists the options.
set -eu
# Bash 4.2 (RHEL 7) counts an empty array as unset under set -u: arrays that may be empty are expanded as ${a[@]+"${a[@]}"}.

usage() {
  cat <<'HELP'
Usage: submit-atlas.sh -w WEIGHTS --images-from LIST -o OUT [options] [-- fmviz atlas options]

Submits `fmviz atlas` as a Slurm array job of N shards (OUT/shard-0 ... OUT/shard-(N-1)) and a merge job
(OUT/merged) that runs after every shard succeeded; prints both job ids. Logs go to OUT/logs. Every option can
also be given by the environment variable shown; an option wins over its variable.

What to compute:
  -w, --weights FILE      VGG16 weights (.bin or .safetensors)              $FMVIZ_ATLAS_WEIGHTS
  --images-from LIST      the images, one path a line                        $FMVIZ_ATLAS_IMAGES
  -o, --out DIR           output folder (shards, merged table, logs)         $FMVIZ_ATLAS_OUT
  --layers L1,L2          conv layers (default: fmviz atlas's)               $FMVIZ_ATLAS_LAYERS
  --top K                 images kept per channel (default: fmviz atlas's)   $FMVIZ_ATLAS_TOP
  --size N                input size (default: fmviz atlas's, 224)           $FMVIZ_ATLAS_SIZE
  --no-site               merge the table only, without the web pages        $FMVIZ_ATLAS_NO_SITE=1
  -- ARGS                 further options for every shard's `fmviz atlas`

How to run it:
  -n, --shards N          number of shards = array tasks (default 8)         $FMVIZ_ATLAS_SHARDS
  --tasks LIST            submit only these shards, e.g. 3,5 or 0-2,7 (to    $FMVIZ_ATLAS_TASKS
                          rerun the tasks that failed; the merge then waits
                          for them only)
  --resume                submit only the shards of OUT that are not
                          finished (no OUT/shard-<i>/atlas.json), then the
                          merge; only the merge when all are finished
  --max-running M         at most M tasks at a time (--array=...%M)          $FMVIZ_ATLAS_MAX_RUNNING
  -c, --cpus-per-task T   CPUs and threads per task (default 4)              $FMVIZ_ATLAS_CPUS
  --time T                time limit per task (default 02:00:00)             $FMVIZ_ATLAS_TIME
  --mem M                 memory per task (default 4G)                       $FMVIZ_ATLAS_MEM
  --merge-cpus T          the merge's CPUs (default: --cpus-per-task's)      $FMVIZ_ATLAS_MERGE_CPUS
  --merge-time T          the merge's time limit (default 01:00:00)          $FMVIZ_ATLAS_MERGE_TIME
  --merge-mem M           the merge's memory (default 4G)                    $FMVIZ_ATLAS_MERGE_MEM
  -p, --partition P       partition (default: the cluster's)                 $FMVIZ_ATLAS_PARTITION
  -A, --account A         account to charge (default: yours)                 $FMVIZ_ATLAS_ACCOUNT
  --sbatch ARG            one more sbatch option for both jobs, e.g.
                          --sbatch=--qos=long (repeatable)
  --fmviz CMD             the fmviz command (default: fmviz on PATH)         $FMVIZ
  --dry-run               print the sbatch commands instead of running them
  -h, --help              this help

Example: submit-atlas.sh -w vgg16.bin --images-from images.txt --layers conv3_3,conv5_3 --top 9 -n 16 -o atlas
HELP
}

die() {
  echo "submit-atlas.sh: $*" >&2
  exit 2
}

weights=${FMVIZ_ATLAS_WEIGHTS:-}
images=${FMVIZ_ATLAS_IMAGES:-}
out=${FMVIZ_ATLAS_OUT:-}
layers=${FMVIZ_ATLAS_LAYERS:-}
top=${FMVIZ_ATLAS_TOP:-}
size=${FMVIZ_ATLAS_SIZE:-}
no_site=${FMVIZ_ATLAS_NO_SITE:-0}
shards=${FMVIZ_ATLAS_SHARDS:-8}
tasks=${FMVIZ_ATLAS_TASKS:-}
max_running=${FMVIZ_ATLAS_MAX_RUNNING:-}
cpus=${FMVIZ_ATLAS_CPUS:-4}
time_limit=${FMVIZ_ATLAS_TIME:-02:00:00}
mem=${FMVIZ_ATLAS_MEM:-4G}
merge_cpus=${FMVIZ_ATLAS_MERGE_CPUS:-}
merge_time=${FMVIZ_ATLAS_MERGE_TIME:-01:00:00}
merge_mem=${FMVIZ_ATLAS_MERGE_MEM:-4G}
partition=${FMVIZ_ATLAS_PARTITION:-}
account=${FMVIZ_ATLAS_ACCOUNT:-}
fmviz=${FMVIZ:-fmviz}
dry_run=0
resume=0
sbatch_extra=()
atlas_extra=()

while [ $# -gt 0 ]; do
  arg=$1
  shift
  case $arg in
    --*=*) set -- "${arg#*=}" "$@"; arg=${arg%%=*} ;;  # --opt=value as --opt value
  esac
  case $arg in
    -h | --help) usage; exit 0 ;;
    --no-site) no_site=1; continue ;;
    --dry-run) dry_run=1; continue ;;
    --resume) resume=1; continue ;;
    --) atlas_extra=("$@"); break ;;
  esac
  [ $# -gt 0 ] || die "$arg needs a value (see --help)"
  value=$1
  shift
  case $arg in
    -w | --weights) weights=$value ;;
    --images-from) images=$value ;;
    -o | --out) out=$value ;;
    --layers) layers=$value ;;
    --top) top=$value ;;
    --size) size=$value ;;
    -n | --shards) shards=$value ;;
    --tasks) tasks=$value ;;
    --max-running) max_running=$value ;;
    -c | --cpus-per-task) cpus=$value ;;
    --time) time_limit=$value ;;
    --mem) mem=$value ;;
    --merge-cpus) merge_cpus=$value ;;
    --merge-time) merge_time=$value ;;
    --merge-mem) merge_mem=$value ;;
    -p | --partition) partition=$value ;;
    -A | --account) account=$value ;;
    --sbatch) sbatch_extra+=("$value") ;;
    --fmviz) fmviz=$value ;;
    *) die "unknown option '$arg' (see --help)" ;;
  esac
done

positive() {
  case $2 in
    '' | *[!0-9]* | 0*) die "$1 must be a positive whole number, not '$2'" ;;
  esac
}
[ -n "$weights" ] || die "no weights: -w FILE (or FMVIZ_ATLAS_WEIGHTS)"
[ -n "$images" ] || die "no images: --images-from LIST (or FMVIZ_ATLAS_IMAGES)"
[ -n "$out" ] || die "no output folder: -o DIR (or FMVIZ_ATLAS_OUT)"
[ -r "$weights" ] || die "$weights: cannot read the weights"
[ -r "$images" ] || die "$images: cannot read the image list"
[ "$images" != "-" ] || die "--images-from - (standard input) cannot be read by the tasks: give a file"
positive --shards "$shards"
positive --cpus-per-task "$cpus"
merge_cpus=${merge_cpus:-$cpus}
positive --merge-cpus "$merge_cpus"
[ -z "$max_running" ] || positive --max-running "$max_running"
[ -z "$top" ] || positive --top "$top"
[ -z "$size" ] || positive --size "$size"
if [ "$resume" = 1 ]; then
  [ -z "$tasks" ] || die "--resume and --tasks: give one of them"
  # A shard's manifest, atlas.json, is written last: a shard without it is unfinished (or never started).
  i=0
  while [ "$i" -lt "$shards" ]; do
    [ -f "$out/shard-$i/atlas.json" ] || tasks=${tasks:+$tasks,}$i
    i=$((i + 1))
  done
  [ -n "$tasks" ] || echo "submit-atlas.sh: every shard of $out is finished: submitting the merge only" >&2
fi
if [ -n "$tasks" ]; then
  case $tasks in
    *[!0-9,-]* | ,* | *, | *,,*) die "--tasks takes shard numbers and ranges such as 3,5 or 0-2,7, not '$tasks'" ;;
  esac
  for part in ${tasks//,/ }; do
    for n in ${part//-/ }; do
      [ "$n" -lt "$shards" ] || die "--tasks $tasks: shard $n is not one of 0-$((shards - 1))"
    done
  done
  array=$tasks
elif [ "$resume" = 1 ]; then
  array=""
else
  array=0-$((shards - 1))
fi
[ -z "$max_running" ] || [ -z "$array" ] || array="$array%$max_running"

# The jobs run the same fmviz as this shell would, found now rather than through the job's PATH.
if [ "$dry_run" = 0 ]; then
  command -v sbatch >/dev/null || die "sbatch not found: run this on a Slurm login node"
  resolved=$(command -v "$fmviz") || die "$fmviz: command not found (--fmviz CMD or FMVIZ)"
  case $resolved in
    /*) fmviz=$resolved ;;
    *) fmviz=$(cd "$(dirname "$resolved")" && pwd)/$(basename "$resolved") ;;
  esac
  mkdir -p "$out/logs"
fi

here=$(cd "$(dirname "$0")" && pwd)
common=(--parsable --chdir="$PWD")
[ -z "$partition" ] || common+=(--partition="$partition")
[ -z "$account" ] || common+=(--account="$account")
common+=(${sbatch_extra[@]+"${sbatch_extra[@]}"})

atlas_args=(-w "$weights" --images-from "$images")
[ -z "$layers" ] || atlas_args+=(--layers "$layers")
[ -z "$top" ] || atlas_args+=(--top "$top")
[ -z "$size" ] || atlas_args+=(--size "$size")
atlas_args+=(${atlas_extra[@]+"${atlas_extra[@]}"})
shard_cmd=(sbatch "${common[@]}" --job-name=fmviz-atlas --array="$array" --cpus-per-task="$cpus" --mem="$mem"
  --time="$time_limit" --output="$out/logs/atlas-%A_%a.out"
  "$here/atlas.sbatch" --fmviz "$fmviz" --shards "$shards" "$out" "${atlas_args[@]}")

merge_args=(-w "$weights")
[ "$no_site" = 0 ] || merge_args+=(--no-site)
merge_cmd() {  # $1: the array job's id, or "" when there is none
  local after=()
  # When a task fails, Slurm cancels the merge rather than leave it pending for ever.
  [ -z "$1" ] || after=(--dependency=afterok:"$1" --kill-on-invalid-dep=yes)
  merge_cmd=(sbatch "${common[@]}" --job-name=fmviz-atlas-merge --cpus-per-task="$merge_cpus" --mem="$merge_mem"
    --time="$merge_time" --output="$out/logs/merge-%j.out" ${after[@]+"${after[@]}"}
    "$here/atlas-merge.sbatch" --fmviz "$fmviz" --shards "$shards" "$out" "${merge_args[@]}")
}

if [ "$dry_run" = 1 ]; then
  if [ -n "$array" ]; then
    printf '%q ' "${shard_cmd[@]}"
    echo
    merge_cmd ARRAY_JOB_ID
  else
    merge_cmd ""
  fi
  printf '%q ' "${merge_cmd[@]}"
  echo
  exit 0
fi

array_job=""
if [ -n "$array" ]; then
  array_job=$("${shard_cmd[@]}")
  array_job=${array_job%%;*}  # --parsable: "id" or "id;cluster"
fi
merge_cmd "$array_job"
if ! merge_job=$("${merge_cmd[@]}"); then
  [ -z "$array" ] || echo "submit-atlas.sh: the merge was not submitted; the array job $array_job was (scancel $array_job to drop it)" >&2
  exit 1
fi
merge_job=${merge_job%%;*}
if [ -n "$array" ]; then
  echo "array job $array_job: shards $array of $shards -> $out/shard-<i> (logs: $out/logs/atlas-${array_job}_<i>.out)"
  echo "merge job $merge_job: after every task of job $array_job succeeded -> $out/merged (log: $out/logs/merge-$merge_job.out)"
else
  echo "merge job $merge_job: -> $out/merged (log: $out/logs/merge-$merge_job.out)"
fi
