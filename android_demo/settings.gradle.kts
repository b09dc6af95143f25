// bhpe-tf Android demo: BiHRNet / BinaryHPE on the phone with Larq Compute Engine (LCE).
// Open this folder in Android Studio. See README.md for getting the LCE AAR into mavenLocal().
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        // LCE publishes no Maven artifact: lce-lite-<version>.aar is installed into ~/.m2 with
        // `mvn install:install-file` (README.md), and resolved from there.
        mavenLocal {
            content { includeGroup("com.larq.compute_engine") }
        }
        google()
        mavenCentral()
    }
}

rootProject.name = "bhpe-demo"
include(":app")
include(":core")
