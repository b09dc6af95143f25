package org.bhpe.demo

import android.content.res.AssetManager
import android.os.SystemClock
import org.bhpe.core.BhpeException
import org.bhpe.core.CenterScale
import org.bhpe.core.HeatmapDecoder
import org.bhpe.core.InputShapeException
import org.bhpe.core.MeshDecoder
import org.bhpe.core.MeshResult
import org.bhpe.core.ModelCard
import org.bhpe.core.ModelCardException
import org.bhpe.core.PoseResult
import org.bhpe.core.Preprocessor
import org.bhpe.core.RgbImage
import org.tensorflow.lite.DataType
import org.tensorflow.lite.Interpreter
import java.io.FileInputStream
import java.io.FileNotFoundException
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.FloatBuffer
import java.nio.MappedByteBuffer
import java.nio.channels.FileChannel

/** How the person crop is chosen (the demo has no person detector). */
enum class CropMode { WHOLE_FRAME, CENTRE_BOX }

/** One inference: what to draw and how long it took. */
class EngineResult(
    val pose: PoseResult?,
    val mesh: MeshResult?,
    val region: CenterScale,
    val imageWidth: Int,
    val imageHeight: Int,
    val inferenceMs: Double,
    val totalMs: Double
)

/**
 * A converted bhpe-tf model from the app's assets, run with the plain TFLite [Interpreter] of the
 * LCE AAR (which registers LceBconv2d & co. itself). No XNNPACK, no GPU / NNAPI delegate: LCE's
 * binary kernels run on the CPU interpreter only. Not thread-safe: call from one worker thread.
 *
 * Everything that can be wrong with the model files is raised as an org.bhpe.core exception with a
 * readable message (missing or mismatched card, tensor shapes differing from the card).
 */
class PoseEngine private constructor(
    val card: ModelCard,
    private val model: MappedByteBuffer,
    threads: Int
) : AutoCloseable {
    private val preprocessor = Preprocessor(card)
    private val heatmapDecoder = if (card.isKeypointModel) HeatmapDecoder(card) else null
    private val meshDecoder = if (card.isMeshModel) MeshDecoder(card) else null
    private var interpreter: Interpreter = createInterpreter(threads)
    private val outputs: Map<Int, ByteBuffer> = card.outputs.associate { out ->
        out.index to ByteBuffer.allocateDirect(out.numElements() * 4).order(ByteOrder.nativeOrder())
    }
    var threads: Int = threads
        private set

    private fun createInterpreter(threads: Int): Interpreter {
        val options = Interpreter.Options()
            .setNumThreads(threads)
            .setUseXNNPACK(false)
        val interp = try {
            Interpreter(model, options)
        } catch (e: IllegalArgumentException) {
            // e.g. "Encountered unresolved custom op: LceBconv2d": the AAR is plain TFLite, not LCE
            throw BhpeException("cannot create the interpreter for ${card.tfliteFile}: ${e.message}. " +
                "Is the app built against the LCE AAR (lce-lite ${card.converter.lceVersion})?", e)
        }
        try {
            checkTensors(interp)
        } catch (e: BhpeException) {
            interp.close()
            throw e
        }
        return interp
    }

    private fun checkTensors(interp: Interpreter) {
        val outputShapes = Array(interp.outputTensorCount) { interp.getOutputTensor(it).shape() }
        card.checkInterpreter(interp.inputTensorCount, interp.getInputTensor(0).shape(),
            interp.outputTensorCount, outputShapes)
        val expected = if (card.input.isUint8) DataType.UINT8 else DataType.FLOAT32
        val actual = interp.getInputTensor(0).dataType()
        if (actual != expected) {
            throw InputShapeException("the flatbuffer's input is $actual but the model card says ${card.input.dtype}; " +
                "copy the .tflite and its card together (make android-assets)")
        }
    }

    /** Recreate the interpreter with another thread count. */
    fun setThreads(n: Int) {
        if (n == threads) return
        interpreter.close()
        interpreter = createInterpreter(n)
        threads = n
    }

    fun run(image: RgbImage, mode: CropMode): EngineResult {
        val start = SystemClock.elapsedRealtimeNanos()
        val region = when (mode) {
            CropMode.WHOLE_FRAME -> preprocessor.wholeImage(image)
            CropMode.CENTRE_BOX -> preprocessor.centreBox(image, 0.9)
        }
        val input = preprocessor.prepare(image, region)
        outputs.values.forEach { it.clear() }
        val t0 = SystemClock.elapsedRealtimeNanos()
        interpreter.runForMultipleInputsOutputs(arrayOf<Any>(input.tensor), outputs)
        val t1 = SystemClock.elapsedRealtimeNanos()
        fun floats(index: Int): FloatBuffer? =
            if (index < 0) null else outputs.getValue(index).let { it.rewind(); it.asFloatBuffer() }
        val pose = heatmapDecoder?.let { it.decode(floats(it.outputIndex())!!, region) }
        val mesh = meshDecoder?.let { it.decode(floats(it.jointsIndex()), floats(it.verticesIndex()), region, 8) }
        val end = SystemClock.elapsedRealtimeNanos()
        return EngineResult(pose, mesh, region, image.width, image.height, (t1 - t0) / 1e6, (end - start) / 1e6)
    }

    override fun close() {
        interpreter.close()
    }

    companion object {
        /** The .tflite files in the assets (each needs its card, same stem, .json). */
        fun listModels(assets: AssetManager): List<String> =
            (assets.list("") ?: emptyArray<String>()).filter { it.endsWith(".tflite") }.sorted()

        /** Load [tflite] and its card from the assets and check that they belong together. */
        fun load(assets: AssetManager, tflite: String, threads: Int): PoseEngine {
            val cardFile = ModelCard.cardFileFor(tflite)
            val card = try {
                assets.open(cardFile).use { ModelCard.read(it) }
            } catch (e: FileNotFoundException) {
                throw ModelCardException("card", "$cardFile is missing from the app's assets; every .tflite needs " +
                    "the model card the converter wrote next to it (make android-assets copies both)", e)
            }
            if (card.tfliteFile != tflite) {
                throw ModelCardException("tflite_file", "$cardFile describes ${card.tfliteFile}, not $tflite")
            }
            val model = try {
                assets.openFd(tflite).use { fd ->
                    FileInputStream(fd.fileDescriptor).channel.use { channel ->
                        channel.map(FileChannel.MapMode.READ_ONLY, fd.startOffset, fd.declaredLength)
                    }
                }
            } catch (e: FileNotFoundException) {
                throw BhpeException("cannot memory-map $tflite (${e.message}); it must be stored uncompressed " +
                    "(androidResources.noCompress += \"tflite\" in app/build.gradle.kts)", e)
            }
            card.verifyModel(model)
            return PoseEngine(card, model, threads)
        }
    }
}
