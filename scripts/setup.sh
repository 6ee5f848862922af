#!/usr/bin/env bash
# Deploys the telemetry stack (k8s/deployment.yaml) to the cluster of the current kubectl
# context and waits for it: Kafka, the agent queues, Ollama and the observer. It never creates
# or deletes a cluster, and running it again only re-applies the manifests.
#
# Usage: bash scripts/setup.sh
#
# Environment:
#   IMAGE         image of the observer and the agents (default multi-agent-telemetry:dev, the
#                 name in k8s/*.yaml; any other value is substituted when applying)
#   BUILD_IMAGE   1: `docker build -t $IMAGE .` first (default 0)
#   LOAD_IMAGE    kind | minikube | none: copy the image into a local cluster's nodes with
#                 `kind load docker-image` or `minikube image load` (default none; a registry
#                 image needs neither)
#   KIND_CLUSTER  the kind cluster to load into (default: kind's default, "kind")
#   KUBECTL       the kubectl to use (default: kubectl on PATH)
#   TIMEOUT       seconds to wait for each of Kafka, the topic Job and the observer (default 300)
#   OLLAMA_TIMEOUT  seconds to wait for Ollama, which pulls llama3.2:1b on first start
#                 (default 900; 0 skips the wait). Ollama is optional: when its image cannot
#                 be pulled or it is not ready in time this warns and goes on, and the agents
#                 answer with the scripted model meanwhile (LLM_FALLBACK=scripted)
#   OLLAMA        1: run Ollama (default); 0: keep its Deployment at 0 replicas and do not wait
#                 for it, for clusters that cannot pull ollama/ollama or the model; the agents'
#                 command printed at the end then sets LLM_BACKEND=scripted (canned answers)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEFAULT_IMAGE=multi-agent-telemetry:dev
IMAGE=${IMAGE:-$DEFAULT_IMAGE}
BUILD_IMAGE=${BUILD_IMAGE:-0}
LOAD_IMAGE=${LOAD_IMAGE:-none}
KUBECTL=${KUBECTL:-kubectl}
TIMEOUT=${TIMEOUT:-300}
OLLAMA_TIMEOUT=${OLLAMA_TIMEOUT:-900}
OLLAMA=${OLLAMA:-1}
NAMESPACE=telemetry

say() { printf 'setup: %s\n' "$*" >&2; }
die() {
  printf 'setup: error: %s\n' "$*" >&2
  exit 1
}

for value in "$TIMEOUT" "$OLLAMA_TIMEOUT"; do
  [[ $value =~ ^[0-9]+$ ]] || die "timeouts must be whole seconds, got \"$value\""
done
[[ $OLLAMA == 0 || $OLLAMA == 1 ]] || die "OLLAMA must be 0 or 1, got \"$OLLAMA\""

command -v "$KUBECTL" >/dev/null 2>&1 ||
  die "kubectl not found (\"$KUBECTL\"): install it or set KUBECTL"
context=$("$KUBECTL" config current-context 2>/dev/null) ||
  die "kubectl has no current context: point it at a cluster first (this script never creates one)"
say "context \"$context\""
"$KUBECTL" version >/dev/null 2>&1 ||
  die "the cluster of context \"$context\" does not answer: see \`$KUBECTL cluster-info\`"

if [[ $BUILD_IMAGE == 1 ]]; then
  command -v docker >/dev/null 2>&1 || die "BUILD_IMAGE=1 needs docker"
  say "building $IMAGE"
  docker build -t "$IMAGE" "$ROOT"
fi

case "$LOAD_IMAGE" in
  none) ;;
  kind)
    command -v kind >/dev/null 2>&1 || die "LOAD_IMAGE=kind needs kind"
    say "loading $IMAGE into kind cluster \"${KIND_CLUSTER:-kind}\""
    kind load docker-image "$IMAGE" --name "${KIND_CLUSTER:-kind}"
    ;;
  minikube)
    command -v minikube >/dev/null 2>&1 || die "LOAD_IMAGE=minikube needs minikube"
    say "loading $IMAGE into minikube"
    minikube image load "$IMAGE"
    ;;
  *) die "LOAD_IMAGE must be kind, minikube or none, got \"$LOAD_IMAGE\"" ;;
esac

# Applies a manifest with the image name substituted when IMAGE is not the default.
apply() {
  local file=$1
  if [[ $IMAGE == "$DEFAULT_IMAGE" ]]; then
    "$KUBECTL" apply -f "$file"
  else
    sed "s|image: $DEFAULT_IMAGE\$|image: $IMAGE|" "$file" | "$KUBECTL" apply -f -
  fi
}

# The observer's API token: a random one, made once and kept across runs (the observer reads it
# from this Secret; every path but /health needs it).
"$KUBECTL" create namespace "$NAMESPACE" --dry-run=client -o yaml | "$KUBECTL" apply -f - >/dev/null
if ! "$KUBECTL" -n "$NAMESPACE" get secret telemetry-observer-token >/dev/null 2>&1; then
  token=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  "$KUBECTL" -n "$NAMESPACE" create secret generic telemetry-observer-token \
    --from-literal=token="$token" >/dev/null
  say "created the observer's API token (secret/telemetry-observer-token)"
else
  say "keeping the observer's API token (secret/telemetry-observer-token)"
fi

say "applying k8s/deployment.yaml"
apply "$ROOT/k8s/deployment.yaml"
if [[ $OLLAMA == 0 ]]; then
  say "OLLAMA=0: scaling Ollama to 0 replicas; the agents use LLM_BACKEND=scripted"
  "$KUBECTL" -n "$NAMESPACE" scale deployment/ollama --replicas=0
fi

say "waiting for Kafka (up to ${TIMEOUT}s)"
"$KUBECTL" -n "$NAMESPACE" rollout status statefulset/kafka --timeout="${TIMEOUT}s"
say "waiting for the topic Job (up to ${TIMEOUT}s)"
"$KUBECTL" -n "$NAMESPACE" wait --for=condition=complete job/kafka-create-topics \
  --timeout="${TIMEOUT}s"
say "waiting for the observer (up to ${TIMEOUT}s)"
"$KUBECTL" -n "$NAMESPACE" rollout status deployment/telemetry-observer --timeout="${TIMEOUT}s"
# Ollama is optional: the agents answer with the scripted model while it cannot be reached
# (LLM_FALLBACK=scripted in k8s/agents-sample.yaml). Its image cannot be pulled everywhere (no
# registry): that is said at once, and is no failure.
if [[ $OLLAMA == 1 && $OLLAMA_TIMEOUT != 0 ]]; then
  say "waiting for Ollama and its model (up to ${OLLAMA_TIMEOUT}s)"
  deadline=$((SECONDS + OLLAMA_TIMEOUT))
  until "$KUBECTL" -n "$NAMESPACE" rollout status deployment/ollama --timeout=5s >/dev/null 2>&1; do
    reasons=$("$KUBECTL" -n "$NAMESPACE" get pods -l app.kubernetes.io/name=ollama \
      -o jsonpath='{.items[*].status.initContainerStatuses[*].state.waiting.reason} {.items[*].status.containerStatuses[*].state.waiting.reason}' \
      2>/dev/null || true)
    if [[ $reasons == *ImagePull* || $reasons == *ErrImage* || $reasons == *InvalidImageName* ]]; then
      say "warning: Ollama's image cannot be pulled ($reasons): the agents answer with the scripted model (LLM_FALLBACK)"
      break
    fi
    if ((SECONDS >= deadline)); then
      say "warning: Ollama is not ready after ${OLLAMA_TIMEOUT}s: the agents answer with the scripted model until it is"
      break
    fi
  done
fi

# The agents' command: the image substituted when it is not the default, and the scripted model
# (LLM_BACKEND=scripted in place of openai) when Ollama does not run.
edits=""
if [[ $IMAGE != "$DEFAULT_IMAGE" ]]; then edits+=" -e 's|image: $DEFAULT_IMAGE\$|image: $IMAGE|'"; fi
if [[ $OLLAMA == 0 ]]; then edits+=" -e 's|value: openai\$|value: scripted|'"; fi
if [[ -z $edits ]]; then
  agents_apply="$KUBECTL apply -f k8s/agents-sample.yaml"
else
  agents_apply="sed$edits k8s/agents-sample.yaml | $KUBECTL apply -f -"
fi
cat <<EOF

The telemetry stack runs in namespace $NAMESPACE of context "$context". Next:

  $agents_apply
  $KUBECTL -n $NAMESPACE port-forward service/telemetry-api 8080:8080
  curl http://localhost:8080/health

Every other path needs the observer's token:

  TOKEN=\$($KUBECTL -n $NAMESPACE get secret telemetry-observer-token -o jsonpath='{.data.token}' | base64 -d)
  curl -H "Authorization: Bearer \$TOKEN" http://localhost:8080/state
EOF
