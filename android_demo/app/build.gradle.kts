plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "org.bhpe.demo"
    compileSdk = 34

    defaultConfig {
        applicationId = "org.bhpe.demo"
        minSdk = 24
        targetSdk = 34
        versionCode = 1
        versionName = "0.1.0"
        ndk {
            // LCE's optimised binary kernels exist for 64-bit ARM only (docs/DESIGN.md §11).
            abiFilters += listOf("arm64-v8a")
        }
    }

    buildTypes {
        release {
            isMinifyEnabled = false
            proguardFiles(getDefaultProguardFile("proguard-android-optimize.txt"), "proguard-rules.pro")
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_11
        targetCompatibility = JavaVersion.VERSION_11
    }
    kotlinOptions {
        jvmTarget = "11"
    }

    androidResources {
        // The interpreter memory-maps the flatbuffer straight from the APK (AssetManager.openFd),
        // which only works for stored (uncompressed) assets.
        noCompress += listOf("tflite")
    }
}

dependencies {
    implementation(project(":core"))

    // Larq Compute Engine for Android: lce-lite-<version>.aar, installed into mavenLocal() with
    // `mvn install:install-file` (README.md). It bundles the TensorFlow Lite Java API
    // (org.tensorflow.lite.Interpreter) and registers the LCE ops itself, so there is deliberately
    // NO org.tensorflow:tensorflow-lite dependency (two copies of libtensorflowlite_jni.so clash).
    // Keep this version equal to the LCE the model was converted with (model card converter.lce_version).
    // Alternative without mavenLocal: copy the AAR to app/libs/ and use
    //   implementation(files("libs/lce-lite-v0.16.0.aar"))
    implementation("com.larq.compute_engine:lce-lite:0.16.0")

    implementation("androidx.core:core-ktx:1.13.1")
    implementation("androidx.appcompat:appcompat:1.7.0")
    implementation("androidx.activity:activity-ktx:1.9.1")

    // CameraX: all artifacts on one version.
    implementation("androidx.camera:camera-core:1.3.4")
    implementation("androidx.camera:camera-camera2:1.3.4")
    implementation("androidx.camera:camera-lifecycle:1.3.4")
    implementation("androidx.camera:camera-view:1.3.4")
}
