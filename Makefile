# The two commands of the README: `make demo` and `make test`.
# Everything the project needs is installed here, into .venv, from the package registries.
PYTHON_BOOT ?= python3.11
VENV        := .venv
PY          := $(VENV)/bin/python
STAMP       := $(VENV)/.installed
export TF_USE_LEGACY_KERAS := 1
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONUNBUFFERED := 1

.PHONY: demo test install java-deps android-assets bench clean

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	# torch first, so that smplx does not pull a CUDA build of torch.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test,reference]'
	touch $(STAMP)

# JDK + JUnit from Debian's packages for the Android demo's platform-free core (see android_demo/README.md).
java-deps:
	@if ! command -v javac >/dev/null 2>&1 || [ ! -f /usr/share/java/junit4.jar ] || [ ! -f /usr/share/java/hamcrest-core.jar ]; then \
		echo "installing JDK and JUnit 4 from Debian packages"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq default-jdk-headless junit4 libhamcrest-java >/dev/null; \
	fi

test: $(STAMP) java-deps
	$(PY) -m pytest -q -n 2 --dist loadfile tests

demo: $(STAMP)
	$(PY) -m bhpe_tf.demo --workdir demo_out

android-assets:
	$(PY) -m bhpe_tf.android_assets --workdir demo_out --assets android_demo/app/src/main/assets

clean:
	rm -rf demo_out .pytest_cache
