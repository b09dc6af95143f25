// Platform-free core of the demo (org.bhpe.core): model card reader, crop, heatmap decoding.
// Plain Java, no Android classes, so it is unit-tested on a JVM (also without Gradle:
// android_demo/run_core_tests.sh, which tests/test_android_core.py runs against Python golden files).
plugins {
    `java-library`
}

java {
    sourceCompatibility = JavaVersion.VERSION_11
    targetCompatibility = JavaVersion.VERSION_11
}

dependencies {
    testImplementation("junit:junit:4.13.2")
}

tasks.withType<Test>().configureEach {
    // Golden files from tests/test_android_core.py, if given: ./gradlew :core:test -Pbhpe.golden=DIR
    systemProperty("bhpe.golden", (project.findProperty("bhpe.golden") ?: "").toString())
}
