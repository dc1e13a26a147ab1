# Foundation Models, Hands-On. Two commands set everything up:
#   make book   build and execute the whole book into _build/html
#               (and its Chinese edition into _build/html/zh)
#   make test   run every test
# Both create the virtual environment .venv on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PORT ?= 8000

# Two pytest workers share the two cores, so each (and every notebook kernel it
# starts) uses one thread: two workers with two threads each would fight over the
# cores and run many times slower.
#
# Tests run with the network cut off where the machine allows it (root and
# `unshare`), so a notebook that downloads at run time fails. The loopback
# interface is brought up inside the new namespace: Jupyter kernels and the
# browser test talk over localhost.
OFFLINE := $(shell unshare -n true 2>/dev/null && command -v ip >/dev/null && echo yes)
ifeq ($(OFFLINE),yes)
RUN_OFFLINE := unshare -n sh -c 'ip link set lo up && exec "$$0" "$$@"'
else
RUN_OFFLINE :=
endif

.PHONY: book book-zh translations course-messages test assets serve lab labs bench lint clean assign grade grade-demo

$(STAMP): requirements-lock.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-lock.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

# The book's JavaScript (MathJax 3, mermaid, require.js, the widgets manager)
# comes from npm, pinned by book/vendor/package-lock.json, and is served by the
# book itself, so its pages work offline. `npm ci` runs only when the lock (or
# the copy script) changed. Without npm the book still builds, and its pages
# load those libraries from public CDNs.
VENDOR := book/vendor
ASSETS := $(VENDOR)/static/vendor/.complete

$(ASSETS): $(VENDOR)/package-lock.json $(VENDOR)/assets.py | $(STAMP)
	@if command -v npm >/dev/null 2>&1; then \
		echo "npm ci --prefix $(VENDOR) (the book's JavaScript, pinned by package-lock.json)"; \
		npm ci --prefix $(VENDOR) --no-audit --no-fund --ignore-scripts --loglevel=error && \
		$(BIN)/python $(VENDOR)/assets.py; \
	else \
		echo "*** npm not found: the book will load MathJax, mermaid and the widgets manager"; \
		echo "*** from public CDNs, so its pages need the internet. Install Node.js and npm"; \
		echo "*** (e.g. apt-get install npm) for a book that works offline."; \
	fi

assets: $(ASSETS)

# Every notebook runs while the book builds, with the network cut off where the
# machine allows it, as in the tests: a notebook that downloads fails here.
book: $(STAMP) $(ASSETS)
	$(RUN_OFFLINE) $(BIN)/jupyter-book build . -W -n --keep-going
	@$(MAKE) --no-print-directory book-zh
	@echo
	@echo "The book is in _build/html. Open it with:  make serve  (then http://localhost:$(PORT))"
	@echo "Its Chinese edition is in _build/html/zh."

# The Chinese edition, built by Sphinx from the same sources through the gettext
# catalogues in locales/zh_CN (book/extensions/editions.py). JB1's CLI cannot set
# Sphinx's language, so Sphinx runs directly, on the conf.py that
# `jupyter-book config sphinx` derives from _config.yml (written into _build/zh,
# never into the repository; the local extensions come through PYTHONPATH).
# Both steps read the notebooks' outputs from the English build's execution
# cache and refuse to execute a notebook; each keeps its own doctrees.
#   make translations  extract the English messages (_build/zh/gettext/*.pot)
#                      and bring every catalogue locales/zh_CN/LC_MESSAGES/**.po
#                      up to date: a changed English sentence becomes a fuzzy or
#                      untranslated message, which tests/test_translation.py
#                      rejects on the pages locales/zh_CN/translated.txt lists;
#                      then the Chinese copies of the notebooks and labs
#                      (notebooks/zh_CN, labs/zh_CN) are written from those
#                      catalogues, and the parameters' help catalogue
#                      locales/zh_CN/LC_MESSAGES/parameters.po brought up to date
#   make book-zh       the Chinese HTML, into _build/html/zh (needs `make book`'s cache)
ZH := _build/zh
ZH_SPHINX := $(RUN_OFFLINE) env PYTHONPATH=$(CURDIR)/book/extensions:$(CURDIR)/book/vendor \
	$(BIN)/sphinx-build -c $(ZH) -W -n --keep-going -q \
	-D nb_execution_cache_path=$(CURDIR)/_build/.jupyter_cache -D gettext_compact=0 -D gettext_location=0

$(ZH)/conf.py: _config.yml _toc.yml | $(STAMP)
	mkdir -p $(ZH)
	cp _config.yml $(ZH)/_config.yml
	$(BIN)/jupyter-book config sphinx . --config $(ZH)/_config.yml >/dev/null

# The checks', the grader's and the parameters' messages (utils/i18n/locale/zh_CN): extracted
# from the code, merged into course.po as the book's catalogues are, compiled to course.mo.
course-messages: $(STAMP)
	$(BIN)/python -m utils.i18n.catalogue

translations: course-messages $(ZH)/conf.py
	@test -d _build/.jupyter_cache || { echo "Build the English book first: make book"; exit 1; }
	$(ZH_SPHINX) -b gettext -d $(ZH)/doctrees-gettext . $(ZH)/gettext
	@# the templates' strings: locales/zh_CN/LC_MESSAGES/sphinx.po is kept by hand
	rm -f $(ZH)/gettext/sphinx.pot
	$(BIN)/sphinx-intl update -p $(ZH)/gettext -l zh_CN -d locales --line-width -1 --no-obsolete \
		-j 1 > $(ZH)/sphinx-intl.log
	@grep -v "^Not Changed" $(ZH)/sphinx-intl.log || true
	@# the notebooks' Chinese copies; a declared page with an English message left is
	@# named here and fails tests/test_translated_notebooks.py, but does not stop the book
	-$(BIN)/python -m utils.teaching.translate --quiet

book-zh: translations
	@# the execution report's models trained and loaded, from the English build's run log
	@test ! -f _build/.course-runs.jsonl || cp _build/.course-runs.jsonl $(ZH)/.course-runs.jsonl
	$(ZH_SPHINX) -b html -D language=zh_CN -d $(ZH)/doctrees . $(ZH)/html
	rm -rf _build/html/zh
	cp -r $(ZH)/html _build/html/zh

test: $(STAMP) $(ASSETS)
ifeq ($(OFFLINE),yes)
	@echo "Running the tests with the network cut off."
else
	@echo "Running the tests WITH network access (cutting it needs root and unshare)."
endif
	$(BIN)/ruff check .
	OMP_NUM_THREADS=1 $(RUN_OFFLINE) $(BIN)/python -m pytest $(PYTEST_ARGS)

# Diagrams load as JavaScript modules, which browsers refuse over file://.
serve:
	@test -f _build/html/index.html || { echo "Build the book first: make book"; exit 1; }
	@echo "Serving the book at http://localhost:$(PORT) (Ctrl-C to stop)"
	$(PYTHON) -m http.server $(PORT) --bind 127.0.0.1 --directory _build/html

# JupyterLab on localhost; it prints a URL with its access token. JupyterLab
# refuses to run as root (common in containers) unless told --allow-root, so the
# flag is added for root only.
ALLOW_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

lab: $(STAMP)
	$(BIN)/jupyter lab --ip=127.0.0.1 --no-browser $(ALLOW_ROOT)

# Regenerate the student and solution notebooks from labs/source/, and the
# Chinese copies of every notebook and lab (from the catalogues as they stand).
labs: $(STAMP)
	$(BIN)/python -m utils.teaching build
	$(BIN)/python -m utils.teaching.translate --quiet

# Instructors: per-student variants of a lab, grading, and a demonstration class.
#   make assign ROSTER=roster.csv LAB=labs/06_fairness.ipynb OUT=variants/ SECRET=~/course-secret
#   make grade SUBMISSIONS=submissions/ MANIFEST=variants/manifest.csv SECRET=~/course-secret OUT=report/
#              [LANGUAGE=zh_CN]   the report and the checks' messages in Chinese (default en)
# Grading runs each submission in a sandbox that needs root or user namespaces
# (see the instructor's guide); the demo class includes hostile submissions.
assign: $(STAMP)
	$(BIN)/python -m utils.teaching assign $(ROSTER) $(LAB) $(OUT) --secret-file $(SECRET)

grade: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/python -m utils.teaching grade $(SUBMISSIONS) \
		--manifest $(MANIFEST) --secret-file $(SECRET) --out $(OUT) --language $(or $(LANGUAGE),en)

grade-demo: $(STAMP)
	rm -rf /tmp/demo-class
	OMP_NUM_THREADS=1 $(BIN)/python -m utils.teaching.demo /tmp/demo-class --language $(or $(LANGUAGE),en)

# make bench EXAMPLE=path/to/pytorch-examples/word_language_model also runs PyTorch's own
# example (its main.py, as a subprocess) on the same text, with the course's loop in float32
# and with its output layer in bfloat16 (book/performance.md).
bench: $(STAMP)
	$(BIN)/python -m utils.lm.benchmark
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -m bench -n 0 tests/test_performance_page.py
ifdef EXAMPLE
	OMP_NUM_THREADS=1 $(BIN)/python experiments/bench_word_language_model.py $(EXAMPLE) \
		--threads 1 --bfloat16
endif

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf _build
