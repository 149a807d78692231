# Two commands: `make demo` runs the whole pipeline on the simulated council; `make test` runs the tests.
# Each creates the .venv it needs on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := demo_output

.PHONY: demo test test-all lint clean browser-deps registry-deps registry-up registry-down mlflow-ui

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip wheel setuptools
	# constraints.txt pins the versions tested together (see pyproject.toml for why some are capped).
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/upstream validate examples/tiny_extract --extract-date 2017-03-31
	@# A real council's data in: import the liia-tools sample returns (examples/returns, MIT) into the contract.
	@# The pseudonym key is made here for the demo; a council keeps its own key outside any repository.
	@mkdir -p $(DEMO) && if [ ! -s $(DEMO)/pseudonym.key ]; then (umask 077; \
	  $(BIN)/python -c "import secrets; print(secrets.token_hex(32))" > $(DEMO)/pseudonym.key); fi
	$(BIN)/upstream import examples/returns/manifest.yaml --out $(DEMO)/imported --key-file $(DEMO)/pseudonym.key
	@sed -n '1,10p' $(DEMO)/imported.import/report.md
	$(BIN)/upstream simulate --out $(DEMO)/council
	$(BIN)/upstream validate $(DEMO)/council --extract-date 2017-03-31
	$(BIN)/upstream features --data $(DEMO)/council --out $(DEMO)/features.parquet --extract-date 2017-03-31
	$(BIN)/upstream train --data $(DEMO)/council
	@# The governance board's audit comes before promotion: audit.html, audit.json, model_card.md, transparency_record.md.
	$(BIN)/upstream audit --alias challenger --data $(DEMO)/council --out $(DEMO)/audit
	@# The promotion gate refuses a 'review' verdict (exit 3). The demo then shows the recorded override a board
	@# would have to sign off; any other failure (a crash) still stops the demo.
	@# A refusal by another gate (the strongest baseline not beaten on its paired interval, calibration in the
	@# listed band) is not overridable: the demo then scores the challenger and says so.
	@$(BIN)/upstream promote --reason "make demo: first champion on the simulated council" || { rc=$$?; \
	  [ $$rc -eq 3 ] || exit $$rc; \
	  echo "demo: promotion refused; if by the fairness gate, recording an override with a reason"; \
	  $(BIN)/upstream promote --override-fairness --reason "make demo on simulated data: audit reviewed, \
	see $(DEMO)/audit/audit.html (lower recall for children not previously known is a stated limitation)" || { \
	  rc=$$?; [ $$rc -eq 3 ] || exit $$rc; echo "demo: refused by a gate that cannot be overridden; scoring the challenger"; \
	  touch $(DEMO)/.score_challenger; }; }
	@# Explained lists per hub; then a scoring run a year earlier, whose 12-month horizon has closed (monitoring
	@# judges its outcomes); then monitoring. Exit 1 from monitor means an alert fired (a scheduler would page
	@# someone): the demo shows it and goes on; any other failure (a crash) stops it.
	@alias=$$([ -f $(DEMO)/.score_challenger ] && echo challenger || echo champion); rm -f $(DEMO)/.score_challenger; \
	  $(BIN)/upstream score --data $(DEMO)/council --out $(DEMO)/scores --alias $$alias && \
	  $(BIN)/upstream score --data $(DEMO)/council --as-of 2016-03-31 --out $(DEMO)/scores_2016-03-31 --alias $$alias && \
	  { $(BIN)/upstream monitor --data $(DEMO)/council --scores $(DEMO)/scores --past $(DEMO)/scores_2016-03-31 \
	    --alias $$alias --out $(DEMO)/monitor | tee $(DEMO)/monitor.log; rc=$${PIPESTATUS[0]}; \
	  if [ $$rc -eq 1 ] && grep -q '^monitor: alert' $(DEMO)/monitor.log; then \
	    echo "demo: monitoring raised alerts (exit 1); see $(DEMO)/monitor/monitor.html"; \
	  elif [ $$rc -ne 0 ]; then exit $$rc; fi; }
	@# A regional partnership: three simulated councils in one extract (docs/scale.md), kept small (1,500 children
	@# per council) to stay cheap. Training reports each council's figures and whether the pooled model beats that
	@# council's own model; scoring writes lists per council and hub. The region's model is registered under its
	@# own name (configs/region.yaml), so the single council's champion is left as it is.
	$(BIN)/upstream simulate --councils 3 --children 1500 --out $(DEMO)/region --config configs/region.yaml \
	  --returns $(DEMO)/region_returns --returns-years 3
	$(BIN)/upstream validate $(DEMO)/region --extract-date 2017-03-31 --config configs/region.yaml
	@# How a partnership's extract is made from real records: each council imports its own returns with its own
	@# key (the region config adds its LA number), then the partnership pools the councils' extracts.
	@for c in 301 302 303; do \
	  if [ ! -s $(DEMO)/pseudonym-$$c.key ]; then (umask 077; \
	    $(BIN)/python -c "import secrets; print(secrets.token_hex(32))" > $(DEMO)/pseudonym-$$c.key); fi; \
	  $(BIN)/upstream import $(DEMO)/region_returns/$$c/manifest.yaml --out $(DEMO)/region_imported/$$c \
	    --key-file $(DEMO)/pseudonym-$$c.key --config configs/region.yaml || exit 1; done
	$(BIN)/upstream pool $(DEMO)/region_imported/301 $(DEMO)/region_imported/302 $(DEMO)/region_imported/303 \
	  --out $(DEMO)/region_pooled --config configs/region.yaml
	$(BIN)/upstream train --data $(DEMO)/region --config configs/region.yaml
	@# The region's fairness audit shows each council as a group and each hub as council/hub.
	$(BIN)/upstream audit --alias challenger --data $(DEMO)/region --out $(DEMO)/region_audit --config configs/region.yaml \
	  --replicates 50
	$(BIN)/upstream score --data $(DEMO)/region --alias challenger --out $(DEMO)/region_scores --config configs/region.yaml
	@# The same lists on a local Dask cluster of 2 workers (predictions and TreeSHAP by partition, docs/scale.md):
	@# the same version, the same hub lists to the byte.
	@version=$$($(BIN)/python -c "import json; print(json.load(open('$(DEMO)/scores/manifest.json'))['model']['version'])") && \
	  $(BIN)/upstream score --data $(DEMO)/council --out $(DEMO)/scores_dask --alias $$version --workers 2 && \
	  for f in $(DEMO)/scores/lists/*.csv; do cmp "$$f" "$(DEMO)/scores_dask/lists/$$(basename "$$f")" || exit 1; done && \
	  echo "demo: the lists scored on Dask are identical to the single-process lists"
	$(BIN)/upstream score --data $(DEMO)/region --alias challenger --out $(DEMO)/region_scores_dask \
	  --config configs/region.yaml --workers 2
	@cd $(DEMO)/region_scores && for f in */lists/*.csv; do cmp "$$f" "../region_scores_dask/$$f" || exit 1; done && \
	  echo "demo: the region's lists per council scored on Dask are identical too"
	@# What acting on the lists would change (docs/impact.md): a short counterfactual simulation (6 months, one
	@# seed, no effect and the most optimistic published effect); the champion, or the challenger when refused.
	$(BIN)/upstream impact --months 6 --seeds 1 --effect 0 --effect 0.32 --policy model --policy random \
	  --policy none --capacity 1 --out $(DEMO)/impact
	@# Last: a demo hub lead for the web service (a new user each run; the token is printed once).
	@token=$$($(BIN)/upstream users add "demo-hub-lead-$$(date +%Y%m%d%H%M%S)" --role hub_lead --hub Northfield | tail -1) && \
	  echo && echo "Start the service:  $(BIN)/upstream serve   (http://127.0.0.1:8000/; API docs at /docs with security.api_docs: true)" && \
	  echo "Sign in as the demo Northfield hub lead with this token (shown once):" && echo "  $$token" && \
	  echo "API example:  curl -H \"Authorization: Bearer $$token\" http://127.0.0.1:8000/api/hubs/Northfield/list" && \
	  $(BIN)/python -c "from core.notice import DECISION_SUPPORT; print(DECISION_SUPPORT)"

test: $(STAMP) browser-deps
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/pytest

test-all: $(STAMP) browser-deps registry-deps
	$(BIN)/pytest -m ''

# The browser tests drive Debian's chromium through Playwright (never `playwright install`).
browser-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo "installing Debian chromium for the browser tests"; \
	  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) $(DEMO)

# A shared registry for a regional partnership (docs/scale.md): PostgreSQL + `mlflow server` on 127.0.0.1, data in
# .registry/. `make registry-up` prints the MLFLOW_TRACKING_URI to export; ports via UPSTREAM_REGISTRY_PORT (5050)
# and UPSTREAM_REGISTRY_PG_PORT (55432).
registry-deps:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then \
	  echo "installing Debian postgresql for the shared registry and its tests"; \
	  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	fi

registry-up: $(STAMP) registry-deps
	$(BIN)/python -m training.registry_server up

registry-down: $(STAMP)
	$(BIN)/python -m training.registry_server down

# The MLflow UI on the single council's store (runs, metrics, plots, model card, registry): http://127.0.0.1:5000
mlflow-ui: $(STAMP)
	MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false $(BIN)/mlflow ui --workers 1 --backend-store-uri sqlite:///$(CURDIR)/mlruns/mlflow.db \
	  --default-artifact-root $(CURDIR)/mlruns/artifacts --host 127.0.0.1 --port $${MLFLOW_UI_PORT:-5000}
