# medft — every target is a thin wrapper over a click command (see `make help`).
# VENV chooses where the virtual environment lives; .ci/run points it at a cache shared per lock hash.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
LOCK := requirements.lock
# The stamp holds a hash of what decides the install (lock + pyproject); `make install` is a no-op
# while it matches. The venv does not depend on the checkout's path: every target puts this
# checkout first on PYTHONPATH, so one venv can serve several clones (CI reuses it per lock hash).
STAMP := $(VENV)/.medft-install-stamp
INSTALL_KEY = $(shell cat $(LOCK) pyproject.toml | sha256sum | cut -c1-16)
PYTEST_ARGS ?=

export MEDFT_ROOT := $(CURDIR)
export PYTHONPATH := $(CURDIR)$(if $(PYTHONPATH),:$(PYTHONPATH))
# Offline by design: never let a stray model id reach for a hub.
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export DISABLE_VERSION_CHECK ?= 1
export TOKENIZERS_PARALLELISM ?= false

.DEFAULT_GOAL := help
.PHONY: help install lock test lint format bench clean tiny-models data stats download samples \
	control-model parity audit train-full train-lora train-qlora train-freeze train-dpo train-orpo train-simpo \
	train-kto prefs prefs-demo export chat serve eval exams sweep judge webui demo fuzz recover mutation

help: ## List every target with one line each
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36mmake %-14s\033[0m %s\n", $$1, $$2}'

install: ## Create $(VENV) and install the locked stack (no-op unless the lock changed)
	@if [ -f $(STAMP) ] && [ "$$(cat $(STAMP))" = "$(INSTALL_KEY)" ]; then \
	  echo "medft: $(VENV) is up to date with $(LOCK)"; \
	else \
	  set -e; \
	  [ -x $(PY) ] || $(PYTHON) -m venv $(VENV); \
	  $(PY) -m pip install --quiet --disable-pip-version-check -r $(LOCK); \
	  $(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .; \
	  echo "$(INSTALL_KEY)" > $(STAMP); \
	  echo "medft: installed into $(VENV)"; \
	fi

lock: ## Re-resolve requirements.in into requirements.lock (needs the network)
	rm -rf build/lock-venv && $(PYTHON) -m venv build/lock-venv
	build/lock-venv/bin/pip install --quiet -r requirements.in
	build/lock-venv/bin/pip freeze --all --exclude-editable | grep -vE '^(pip|medft)[= ]' > $(LOCK)
	rm -rf build/lock-venv

tiny-models: install ## Build the offline tiny Qwen2 + tiny BERT used by the demo and tests
	$(PY) -m app.cli tiny-models

control-model: install ## Build the control model the demo fine-tunes (a small Qwen2 pre-trained offline, ~2 min once)
	$(PY) -m app.cli control-model

parity: install ## Same greedy answers in-process, merged and served? make parity RUN=NAME [PARITY_ARGS="--no-serve"]
	@[ -n "$(RUN)" ] || { echo 'make parity: set RUN=<name> (a LoRA run under runs/)'; exit 2; }
	$(PY) -m app.cli parity "$(RUN)" --dataset-dir $(DATASET_DIR) $(PARITY_ARGS)

# Training: every variable is optional; see README "Training" (MODEL and DATASET_DIR: see bridge below).
DATASETS ?=
RUN ?=
ARGS ?=
GPUS ?=
DS ?=
NNODES ?=
NODE_RANK ?=
MASTER_ADDR ?=
MASTER_PORT ?=
TRAIN_FLAGS = $(if $(MODEL),--model $(MODEL)) $(if $(DATASETS),--datasets $(DATASETS)) --dataset-dir $(DATASET_DIR) \
  $(if $(RUN),--run $(RUN)) $(if $(filter 1,$(RESUME)),--resume) $(if $(filter 1,$(FORCE)),--force) \
  $(if $(filter 1,$(DRY_RUN)),--dry-run) $(if $(GPUS),--gpus $(GPUS)) $(if $(DS),--ds $(DS)) \
  $(if $(NNODES),--nnodes $(NNODES)) $(if $(NODE_RANK),--node-rank $(NODE_RANK)) \
  $(if $(MASTER_ADDR),--master-addr $(MASTER_ADDR)) $(if $(MASTER_PORT),--master-port $(MASTER_PORT)) \
  $(if $(filter 1,$(USE_RAY)),--use-ray) $(TRUST_FLAG) $(if $(filter 1,$(ALLOW_HELDOUT)),--allow-heldout) $(VAL_FLAGS) \
  $(if $(FROM),--from $(FROM))
# VAL_SIZE=0.1 holds out 10 % of the training data and logs a validation loss every logging_steps (the loss
# plot and `make sweep` draw it beside the training loss).
VAL_SIZE ?=
VAL_FLAGS = $(if $(VAL_SIZE),val_size=$(VAL_SIZE) eval_strategy=steps)
# TRUST_REMOTE_CODE=1 lets a model folder's own Python code run (config.json auto_map); off by default.
TRUST_FLAG = $(if $(filter 1,$(TRUST_REMOTE_CODE)),--trust-remote-code)

train-lora: install ## LoRA fine-tune: make train-lora MODEL=dir DATASETS=a,b [RUN= ARGS="k=v ..." VAL_SIZE=0.1 RESUME=1 FORCE=1 DRY_RUN=1 TRUST_REMOTE_CODE=1 ALLOW_HELDOUT=1]
	$(PY) -m recipes train lora $(TRAIN_FLAGS) $(ARGS)

train-qlora: install ## QLoRA (4-bit base) fine-tune; same variables as train-lora
	$(PY) -m recipes train qlora $(TRAIN_FLAGS) $(ARGS)

train-full: install ## Full fine-tune; same variables, plus GPUS=N DS=z2|z3|z3_offload NNODES=.. for big models
	$(PY) -m recipes train full $(TRAIN_FLAGS) $(ARGS)

train-freeze: install ## Freeze tuning (last layers only); same variables as train-lora
	$(PY) -m recipes train freeze $(TRAIN_FLAGS) $(ARGS)

# Preference training (README "Preference training"): FROM=runs/NAME starts from that SFT run (its weights, its
# template; the reference model of dpo / kto is that SFT model). DATASETS: a set `make prefs` registered.
FROM ?=
train-dpo: install ## DPO on LoRA: make train-dpo FROM=runs/SFT DATASETS=med_cmb_pref [same variables as train-lora]
	$(PY) -m recipes train dpo $(TRAIN_FLAGS) $(ARGS)

train-orpo: install ## ORPO (no reference model): make train-orpo FROM=runs/SFT DATASETS=med_cmb_pref
	$(PY) -m recipes train orpo $(TRAIN_FLAGS) $(ARGS)

train-simpo: install ## SimPO (no reference model): make train-simpo FROM=runs/SFT DATASETS=med_cmb_pref
	$(PY) -m recipes train simpo $(TRAIN_FLAGS) $(ARGS)

train-kto: install ## KTO on good/bad answers (kto_tag): make train-kto FROM=runs/SFT DATASETS=med_cmb_kto
	$(PY) -m recipes train kto $(TRAIN_FLAGS) $(ARGS)

# prefs: one of EXAM=cmb|cmexam (FROM's sampled answers to the exam's training questions, graded), JUDGED=OUT
# (pairwise judge verdicts in an eval report on training prompts) or PREF_FILE=ranking.jsonl; NAME names the set.
EXAM ?=
JUDGED ?=
PREF_FILE ?=
NAME ?=
K ?=
TEMPERATURE ?=
KIND ?=
PREF_FLAGS = --dataset-dir $(DATASET_DIR) $(if $(NAME),--name $(NAME)) $(if $(KIND),--kind $(KIND)) \
  $(if $(filter 1,$(FORCE)),--force)
prefs: install ## Preference set: make prefs FROM=runs/SFT EXAM=cmb [K=4 TEMPERATURE=1.0 KIND=kto LIMIT=N] | JUDGED=OUT NAME=n | PREF_FILE=f NAME=n
	@if [ -n "$(EXAM)" ]; then [ -n "$(FROM)" ] || { echo 'make prefs EXAM=...: set FROM=runs/<sft run> (the model whose answers are graded)'; exit 2; }; \
	  set -x; $(PY) -m eval prefs exam med_$(EXAM) --model "$(FROM)" $(PREF_FLAGS) $(if $(K),--k $(K)) \
	    $(if $(TEMPERATURE),--temperature $(TEMPERATURE)) $(if $(LIMIT),--limit $(LIMIT)); \
	elif [ -n "$(JUDGED)" ]; then [ -n "$(NAME)" ] || { echo 'make prefs JUDGED=...: set NAME=<set name>'; exit 2; }; \
	  set -x; $(PY) -m eval prefs judge "$(JUDGED)" $(PREF_FLAGS) --rubric $(RUBRIC); \
	elif [ -n "$(PREF_FILE)" ]; then [ -n "$(NAME)" ] || { echo 'make prefs PREF_FILE=...: set NAME=<set name>'; exit 2; }; \
	  set -x; $(PY) -m eval prefs file "$(NAME)" "$(PREF_FILE)" --dataset-dir $(DATASET_DIR) $(if $(filter 1,$(FORCE)),--force); \
	else echo 'make prefs: set EXAM=cmb FROM=runs/<sft>, JUDGED=<eval OUT> NAME=<set>, or PREF_FILE=<file> NAME=<set>'; exit 2; fi

export: install ## Merge a LoRA/QLoRA run's adapter into its base: make export RUN=<name> (or RUN=runs/<name>)
	@[ -n "$(RUN)" ] || { echo 'make export: set RUN=runs/<name>'; exit 2; }
	$(PY) -m recipes export $(RUN) $(TRUST_FLAG)

chat: install ## Chat with a run in the terminal: make chat RUN=<name>
	@[ -n "$(RUN)" ] || { echo 'make chat: set RUN=runs/<name>'; exit 2; }
	$(PY) -m recipes chat $(RUN) $(TRUST_FLAG)

# serve: RUN=<name> (or MODEL=dir) behind an OpenAI-compatible API. HOST/PORT default to 127.0.0.1:8000 here
# (PORT's file default belongs to webui); TEMPLATE is passed only when given, so a run keeps its own.
given = $(filter-out undefined default file,$(origin $(1)))
BACKEND ?= huggingface
SERVED_NAME ?=
serve: install ## Serve a run on an OpenAI-compatible API: make serve RUN=<name> [MODEL=dir] [PORT=8000 BACKEND=vllm]
	@[ -n "$(RUN)$(MODEL)" ] || { echo 'make serve: set RUN=<name> (or MODEL=/path/to/model)'; exit 2; }
	$(PY) -m recipes serve "$(if $(RUN),$(RUN),$(MODEL))" --host $(HOST) \
	  --port $(if $(call given,PORT),$(PORT),8000) --backend $(BACKEND) $(if $(SERVED_NAME),--name $(SERVED_NAME)) \
	  $(if $(call given,TEMPLATE),--template $(TEMPLATE)) $(if $(filter 1,$(DRY_RUN)),--dry-run) $(ARGS)

# eval: MODELS is a space-separated list of LABEL=PATH (model dir, adapter dir or run dir).
MODELS ?=
EVAL_DATASETS ?= med_norm_test med_mrg_test
OUT ?= reports/latest
BERT ?=
LIMIT ?=
# LIMIT=N evaluates a seeded sample of N per set, stratified by subject/category; LIMIT_MODE=first: the first N.
LIMIT_MODE ?=
LIMIT_FLAGS = $(if $(LIMIT),--limit $(LIMIT)) $(if $(LIMIT_MODE),--limit-mode $(LIMIT_MODE))
BOOTSTRAP ?=
# Exams (bridge sources cmb, cmexam, cmmlu): a bare exam name in EVAL_DATASETS or EXAMS means med_<exam>_test.
EXAM_NAMES := cmb cmexam cmmlu
EXAMS ?= $(EXAM_NAMES)
SHOTS ?=
MODE ?=
exam_set = $(if $(filter $(EXAM_NAMES),$(1)),med_$(1)_test,$(1))
EXAM_FLAGS = $(if $(SHOTS),--shots $(SHOTS)) $(if $(MODE),--mode $(MODE))
# TEMPLATE (only when given: its file default is for `make stats`; a run keeps its own), MAX_NEW_TOKENS and
# REQUEST_TIMEOUT (seconds per server request) for eval and exams.
MAX_NEW_TOKENS ?=
REQUEST_TIMEOUT ?=
GEN_FLAGS = $(if $(call given,TEMPLATE),--template $(TEMPLATE)) $(if $(MAX_NEW_TOKENS),--max-new-tokens $(MAX_NEW_TOKENS)) \
  $(if $(REQUEST_TIMEOUT),--request-timeout $(REQUEST_TIMEOUT))
eval: install ## Predict + score + report (OUT/report.html): make eval MODELS="base=PATH tuned=runs/NAME" [EVAL_DATASETS=.. BERT=dir TEMPLATE= MAX_NEW_TOKENS= REQUEST_TIMEOUT=]
	@[ -n "$(MODELS)" ] || { echo 'make eval: set MODELS="base=/path/to/base tuned=runs/<name>"'; exit 2; }
	$(PY) -m eval run $(foreach m,$(MODELS),--model $(m)) $(foreach d,$(EVAL_DATASETS),--dataset $(call exam_set,$(d))) \
	  --dataset-dir $(DATASET_DIR) --out $(OUT) $(if $(BERT),--bert-model $(BERT)) $(LIMIT_FLAGS) \
	  $(if $(BOOTSTRAP),--bootstrap $(BOOTSTRAP)) $(EXAM_FLAGS) $(if $(CONCURRENCY),--concurrency $(CONCURRENCY)) $(GEN_FLAGS)

exams: install ## Exam benchmarks: make exams MODELS="base=PATH tuned=runs/NAME" [EXAMS="cmb cmexam cmmlu" SHOTS=0 MODE=generate|loglik LIMIT=N (stratified sample) TEMPLATE= MAX_NEW_TOKENS=]
	@[ -n "$(MODELS)" ] || { echo 'make exams: set MODELS="base=/path/to/base tuned=runs/<name>"'; exit 2; }
	$(PY) -m eval run $(foreach m,$(MODELS),--model $(m)) $(foreach e,$(EXAMS),--dataset $(call exam_set,$(e))) \
	  --dataset-dir $(DATASET_DIR) --out $(if $(filter file,$(origin OUT)),reports/exams,$(OUT)) \
	  $(LIMIT_FLAGS) $(if $(BOOTSTRAP),--bootstrap $(BOOTSTRAP)) $(EXAM_FLAGS) $(GEN_FLAGS) \
	  $(if $(CONCURRENCY),--concurrency $(CONCURRENCY))

sweep: install ## Evaluate base, every checkpoint and final of a run: make sweep RUN=NAME [EVAL_DATASETS=.. LIMIT=N OUT=dir]
	@[ -n "$(RUN)" ] || { echo 'make sweep: set RUN=<name> (a run under runs/ with checkpoint-* folders)'; exit 2; }
	$(PY) -m eval sweep "$(RUN)" $(foreach d,$(EVAL_DATASETS),--dataset $(call exam_set,$(d))) --dataset-dir $(DATASET_DIR) \
	  $(if $(call given,OUT),--out $(OUT)) $(if $(BERT),--bert-model $(BERT)) $(LIMIT_FLAGS) \
	  $(if $(BOOTSTRAP),--bootstrap $(BOOTSTRAP))

# judge: an LLM scores (pointwise) or compares (pairwise) the predictions eval cached in OUT.
# (JUDGE_MODE, not MODE: MODE is the exams' generate|loglik.)
JUDGE ?=
JUDGE_MODE ?= pointwise
RUBRIC ?= medical_zh
JUDGE_MODELS ?=
judge: install ## LLM-as-judge on OUT's predictions: make judge JUDGE=dir|http://host:port/v1 [JUDGE_MODE=pairwise LIMIT=N DRY_RUN=1 ALLOW_PARTIAL=1]
	@[ -n "$(JUDGE)" ] || { echo 'make judge: set JUDGE=/path/to/judge-model (or JUDGE=http://127.0.0.1:8000/v1)'; exit 2; }
	$(PY) -m eval judge $(OUT) --judge "$(JUDGE)" --mode $(JUDGE_MODE) --rubric $(RUBRIC) \
	  $(foreach m,$(JUDGE_MODELS),--model $(m)) $(if $(LIMIT),--limit $(LIMIT)) $(if $(filter 1,$(DRY_RUN)),--dry-run) \
	  $(if $(BOOTSTRAP),--bootstrap $(BOOTSTRAP)) $(if $(CONCURRENCY),--concurrency $(CONCURRENCY)) \
	  $(if $(REQUEST_TIMEOUT),--request-timeout $(REQUEST_TIMEOUT)) $(if $(filter 1,$(ALLOW_PARTIAL)),--allow-partial)

prefs-demo: install ## SFT -> preferences from graded exam answers -> DPO -> base/SFT/DPO report, offline (~2 min)
	$(PY) -m app.cli prefs-demo --dir runs/prefs-demo

DEMO_DIR ?= runs/demo
demo: install ## The whole pipeline offline: tiny models + sample data -> convert -> stats -> LoRA -> export -> eval
	$(PY) -m app.cli demo --dir $(DEMO_DIR)

HOST ?= 127.0.0.1
PORT ?= 7860
webui: install ## LLaMA-Factory's web UI: Data dir data = training sets, heldout = all (HOST=0.0.0.0 to expose)
	$(PY) -m app.cli webui --host $(HOST) --port $(PORT) --dataset-dir $(DATASET_DIR)

# One torch/OpenMP thread per test process: two xdist workers already fill two cores, and OpenMP threads
# that spin against each other made tiny-model generation ~30x slower (measured: 15 vs 500 ms per step).
TEST_THREADS ?= 1
test: install ## Run the test suite (real llamafactory-cli runs on tiny models, CPU only)
	OMP_NUM_THREADS=$(TEST_THREADS) $(BIN)/pytest -n 2 $(PYTEST_ARGS)

FUZZ_EXAMPLES ?=
fuzz: install ## Property-based tests only, with many more generated examples (FUZZ_EXAMPLES=N to set how many)
	OMP_NUM_THREADS=$(TEST_THREADS) HYPOTHESIS_PROFILE=fuzz $(if $(FUZZ_EXAMPLES),MEDFT_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES)) \
	  $(BIN)/pytest -n 2 -m property $(PYTEST_ARGS)

# Mutation testing (TESTING.md): mutmut mutates the verdict and safety modules listed in pyproject's
# [tool.mutmut] and runs each mutant against the tests that reach it. Incremental: results live in mutants/
# and only changed functions are re-run; survivors are re-run every time, since new tests may kill them.
MUTATION_JOBS ?= 2
mutation: install ## Mutation testing of the verdict and safety modules (mutmut, incremental): scores in reports/mutation/
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	OMP_NUM_THREADS=1 $(BIN)/mutmut run --max-children $(MUTATION_JOBS)
	@again="$$($(PY) -m tests.mutation --survivors)"; if [ -n "$$again" ]; then \
	  echo "medft: re-running $$(echo $$again | wc -w) surviving mutants against the current tests"; \
	  OMP_NUM_THREADS=1 $(BIN)/mutmut run --max-children $(MUTATION_JOBS) $$again; fi
	$(PY) -m tests.mutation

lint: install ## ruff check (style + imports)
	$(BIN)/ruff check .

format: install ## ruff format + import sort
	$(BIN)/ruff check --fix --select I .
	$(BIN)/ruff format .

bench: install ## Run the benchmarks under bench/ and print the tables recorded in BENCHMARKS.md
	$(PY) -m bench

clean: ## Remove caches, runs and converted data (keeps the venv and dataset_info.json)
	rm -rf .cache .pytest_cache .ruff_cache .hypothesis runs reports build bench/results
	find . -name __pycache__ -type d -prune -not -path './$(VENV)/*' -exec rm -rf {} +
	rm -f dataset_info/*.jsonl dataset_info/.manifest.json dataset_info/.medft-manifest.json dataset_info/stats.json \
	  dataset_info/audit.json dataset_info/audit.md

# ---- bridge: raw sources -> dataset_info/ (see README "Data") ----
# RAW_DIR / DATASET_DIR move the folders; MODEL is the tokenizer for `make stats` (default: the offline tiny
# Qwen2, so the target runs anywhere; pass your real base model for cutoff_len numbers that mean something).
RAW_DIR ?= raw
DATASET_DIR ?= dataset_info
PARITY_ARGS ?=
MODEL ?=
TEMPLATE ?= qwen
CUTOFF_LEN ?= 2048
BRIDGE_ARGS ?=

data: install ## Convert every raw source present under raw/ and register it in dataset_info/
	$(PY) -m bridge convert --raw-dir $(RAW_DIR) --dataset-dir $(DATASET_DIR) $(BRIDGE_ARGS)
	$(PY) -m bridge audit --dataset-dir $(DATASET_DIR) --near-dedup

# AUDIT_ARGS: --fix (remove flagged training records), --near-dedup 0.8 (another threshold).
AUDIT_ARGS ?=
audit: install ## Every training set vs every held-out set (exact + 13-gram) and near-duplicates: [AUDIT_ARGS=--fix]
	$(PY) -m bridge audit --dataset-dir $(DATASET_DIR) --near-dedup $(AUDIT_ARGS)

stats: install ## Token-length statistics of the registered datasets; recommends cutoff_len (MODEL=...)
	$(PY) -m bridge stats --dataset-dir $(DATASET_DIR) --template $(TEMPLATE) --cutoff-len $(CUTOFF_LEN) \
	  --model "$(if $(MODEL),$(MODEL),$$($(PY) -m app.cli tiny-models 2>/dev/null | head -n 1))"

recover: install ## Finish a conversion that was killed while replacing its files; remove dead runs' temp files
	$(PY) -m bridge recover --dataset-dir $(DATASET_DIR)

download: install ## Fetch the raw sources into raw/ (ModelScope CLI + openkg zip); fails fast offline
	$(PY) -m bridge download --raw-dir $(RAW_DIR) $(BRIDGE_ARGS)

samples: install ## Write small realistic raw files for every source (exams included) into raw/ (offline demo data)
	$(PY) -m bridge samples --out $(RAW_DIR)
