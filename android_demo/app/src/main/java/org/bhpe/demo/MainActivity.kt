package org.bhpe.demo

import android.Manifest
import android.content.pm.PackageManager
import android.graphics.Bitmap
import android.graphics.BitmapFactory
import android.net.Uri
import android.os.Bundle
import android.util.Log
import android.view.View
import android.widget.AdapterView
import android.widget.ArrayAdapter
import android.widget.Button
import android.widget.ImageView
import android.widget.RadioGroup
import android.widget.SeekBar
import android.widget.Spinner
import android.widget.TextView
import androidx.activity.result.contract.ActivityResultContracts
import androidx.appcompat.app.AppCompatActivity
import androidx.camera.core.AspectRatio
import androidx.camera.core.CameraSelector
import androidx.camera.core.ImageAnalysis
import androidx.camera.core.ImageProxy
import androidx.camera.core.Preview
import androidx.camera.lifecycle.ProcessCameraProvider
import androidx.camera.view.PreviewView
import androidx.core.content.ContextCompat
import org.bhpe.core.BhpeException
import org.bhpe.core.RgbImage
import java.util.Locale
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors

/**
 * Camera preview (CameraX) or a gallery picture -> person crop (centre box or whole frame) -> the
 * bundled LCE model -> skeleton / mesh overlay, with the latency on screen. All model work happens on
 * one worker thread; any error is shown in the red bar instead of crashing the app.
 */
class MainActivity : AppCompatActivity() {
    private lateinit var preview: PreviewView
    private lateinit var still: ImageView
    private lateinit var overlay: OverlayView
    private lateinit var latency: TextView
    private lateinit var error: TextView
    private lateinit var threadsLabel: TextView

    private val worker: ExecutorService = Executors.newSingleThreadExecutor()
    private var engine: PoseEngine? = null          // touched on the worker thread only
    @Volatile private var cropMode = CropMode.CENTRE_BOX
    @Volatile private var threads = 1
    @Volatile private var cameraMode = true
    private var cameraProvider: ProcessCameraProvider? = null
    private var meanInferenceMs = 0.0
    private var frames = 0

    private val cameraPermission = registerForActivityResult(ActivityResultContracts.RequestPermission()) { granted ->
        if (granted) startCamera() else showError(getString(R.string.camera_permission_denied))
    }
    private val pickImage = registerForActivityResult(ActivityResultContracts.GetContent()) { uri: Uri? ->
        if (uri != null) runOnGalleryImage(uri)
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        preview = findViewById(R.id.preview)
        still = findViewById(R.id.still)
        overlay = findViewById(R.id.overlay)
        latency = findViewById(R.id.latency)
        error = findViewById(R.id.error)
        threadsLabel = findViewById(R.id.threads_label)

        val models = PoseEngine.listModels(assets)
        val spinner = findViewById<Spinner>(R.id.model)
        spinner.adapter = ArrayAdapter(this, android.R.layout.simple_spinner_dropdown_item, models)
        spinner.onItemSelectedListener = object : AdapterView.OnItemSelectedListener {
            override fun onItemSelected(parent: AdapterView<*>?, view: View?, position: Int, id: Long) =
                loadModel(models[position])

            override fun onNothingSelected(parent: AdapterView<*>?) = Unit
        }
        if (models.isEmpty()) showError(getString(R.string.no_models))

        val seek = findViewById<SeekBar>(R.id.threads)
        threadsLabel.text = getString(R.string.threads_label, threads)
        seek.setOnSeekBarChangeListener(object : SeekBar.OnSeekBarChangeListener {
            override fun onProgressChanged(bar: SeekBar?, progress: Int, fromUser: Boolean) {
                threads = progress + 1
                threadsLabel.text = getString(R.string.threads_label, threads)
            }

            override fun onStartTrackingTouch(bar: SeekBar?) = Unit
            override fun onStopTrackingTouch(bar: SeekBar?) {
                val n = threads
                worker.execute { guarded { engine?.setThreads(n); resetStats() } }
            }
        })
        findViewById<RadioGroup>(R.id.crop_mode).setOnCheckedChangeListener { _, checked ->
            cropMode = if (checked == R.id.crop_whole) CropMode.WHOLE_FRAME else CropMode.CENTRE_BOX
        }
        findViewById<Button>(R.id.camera).setOnClickListener { requestCamera() }
        findViewById<Button>(R.id.gallery).setOnClickListener { pickImage.launch("image/*") }
        requestCamera()
    }

    override fun onDestroy() {
        super.onDestroy()
        cameraProvider?.unbindAll()
        worker.execute { engine?.close(); engine = null }
        worker.shutdown()
    }

    // ------------------------------------------------------------------ model

    private fun loadModel(name: String) {
        val n = threads
        worker.execute {
            guarded {
                engine?.close()
                engine = null
                val e = PoseEngine.load(assets, name, n)
                engine = e
                resetStats()
                runOnUiThread { hideError(); latency.text = e.card.summary() }
            }
        }
    }

    private fun resetStats() {
        meanInferenceMs = 0.0
        frames = 0
    }

    /** Run [block] on the worker; show a core error's message instead of crashing. */
    private fun guarded(block: () -> Unit) {
        try {
            block()
        } catch (e: BhpeException) {
            Log.w(TAG, "model error", e)
            showError(e.message ?: e.toString())
        } catch (e: IllegalArgumentException) {     // the TFLite Java API reports misuse this way
            Log.w(TAG, "interpreter error", e)
            showError("interpreter: ${e.message}")
        } catch (e: IllegalStateException) {
            Log.w(TAG, "interpreter error", e)
            showError("interpreter: ${e.message}")
        }
    }

    private fun infer(image: RgbImage, fill: Boolean) {
        val e = engine ?: return
        val r = e.run(image, cropMode)
        frames++
        meanInferenceMs += (r.inferenceMs - meanInferenceMs) / frames
        val text = String.format(Locale.ROOT, "%s\ninference %.1f ms (mean %.1f over %d)\ntotal %.1f ms, %d thread%s",
            e.card.summary(), r.inferenceMs, meanInferenceMs, frames, r.totalMs, e.threads, if (e.threads == 1) "" else "s")
        runOnUiThread {
            hideError()
            latency.text = text
            overlay.show(r, fill)
        }
    }

    // ------------------------------------------------------------------ camera

    private fun requestCamera() {
        if (ContextCompat.checkSelfPermission(this, Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED) {
            startCamera()
        } else {
            cameraPermission.launch(Manifest.permission.CAMERA)
        }
    }

    private fun startCamera() {
        cameraMode = true
        still.visibility = View.GONE
        preview.visibility = View.VISIBLE
        overlay.show(null, true)
        val future = ProcessCameraProvider.getInstance(this)
        future.addListener({
            try {
                val provider = future.get()
                cameraProvider = provider
                val previewUseCase = Preview.Builder()
                    .setTargetAspectRatio(AspectRatio.RATIO_4_3)
                    .build()
                    .also { it.setSurfaceProvider(preview.surfaceProvider) }
                val analysis = ImageAnalysis.Builder()
                    .setTargetAspectRatio(AspectRatio.RATIO_4_3)
                    .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST)
                    .setOutputImageFormat(ImageAnalysis.OUTPUT_IMAGE_FORMAT_RGBA_8888)
                    .build()
                analysis.setAnalyzer(worker) { frame -> analyze(frame) }
                provider.unbindAll()
                provider.bindToLifecycle(this, CameraSelector.DEFAULT_BACK_CAMERA, previewUseCase, analysis)
            } catch (e: Exception) {
                Log.w(TAG, "camera", e)
                showError("camera: ${e.message}")
            }
        }, ContextCompat.getMainExecutor(this))
    }

    private fun analyze(frame: ImageProxy) {
        try {
            if (!cameraMode) return
            guarded {
                val planes = frame.planes
                val image = RgbImage.fromCameraFrame(frame.format,
                    Array(planes.size) { planes[it].buffer },
                    IntArray(planes.size) { planes[it].rowStride },
                    IntArray(planes.size) { planes[it].pixelStride },
                    frame.width, frame.height, frame.imageInfo.rotationDegrees)
                infer(image, fill = true)
            }
        } finally {
            frame.close()
        }
    }

    // ------------------------------------------------------------------ gallery

    private fun runOnGalleryImage(uri: Uri) {
        cameraMode = false
        cameraProvider?.unbindAll()
        preview.visibility = View.GONE
        still.visibility = View.VISIBLE
        worker.execute {
            guarded {
                val bitmap = decode(uri) ?: throw BhpeException("cannot decode the picture $uri")
                val pixels = IntArray(bitmap.width * bitmap.height)
                bitmap.getPixels(pixels, 0, bitmap.width, 0, 0, bitmap.width, bitmap.height)
                val image = RgbImage.fromArgb(pixels, bitmap.width, bitmap.height)
                runOnUiThread { still.setImageBitmap(bitmap) }
                resetStats()
                infer(image, fill = false)
            }
        }
    }

    /** Decode to ARGB_8888, subsampled to at most ~2048 px on the long side. */
    private fun decode(uri: Uri): Bitmap? {
        val bounds = BitmapFactory.Options().apply { inJustDecodeBounds = true }
        contentResolver.openInputStream(uri)?.use { BitmapFactory.decodeStream(it, null, bounds) }
        var sample = 1
        while (maxOf(bounds.outWidth, bounds.outHeight) / sample > 2048) sample *= 2
        val options = BitmapFactory.Options().apply {
            inSampleSize = sample
            inPreferredConfig = Bitmap.Config.ARGB_8888
        }
        return contentResolver.openInputStream(uri)?.use { BitmapFactory.decodeStream(it, null, options) }
    }

    // ------------------------------------------------------------------ errors

    private fun showError(message: String) = runOnUiThread {
        error.text = message
        error.visibility = View.VISIBLE
    }

    private fun hideError() {
        error.visibility = View.GONE
    }

    companion object {
        private const val TAG = "bhpe-demo"
    }
}
