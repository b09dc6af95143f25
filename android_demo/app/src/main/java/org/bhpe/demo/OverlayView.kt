package org.bhpe.demo

import android.content.Context
import android.graphics.Canvas
import android.graphics.Color
import android.graphics.Paint
import android.util.AttributeSet
import android.view.View
import kotlin.math.max
import kotlin.math.min

/**
 * Draws a result over the camera preview or the gallery image: the crop region, the keypoint skeleton
 * (BiHRNet), or landmarks and a vertex point cloud (BinaryHPE). Image pixels are mapped to the view
 * with the scale type of what is underneath ([fill] = PreviewView's FILL_CENTER, otherwise
 * ImageView's fitCenter).
 */
class OverlayView @JvmOverloads constructor(context: Context, attrs: AttributeSet? = null) : View(context, attrs) {
    private var result: EngineResult? = null
    private var fill = true
    var minScore = 0.2f

    private val bone = Paint(Paint.ANTI_ALIAS_FLAG).apply {
        color = Color.rgb(0, 230, 118); strokeWidth = 6f; style = Paint.Style.STROKE; strokeCap = Paint.Cap.ROUND
    }
    private val joint = Paint(Paint.ANTI_ALIAS_FLAG).apply { color = Color.rgb(255, 193, 7); style = Paint.Style.FILL }
    private val vertex = Paint().apply { color = Color.argb(150, 100, 181, 246); strokeWidth = 3f }
    private val landmark = Paint(Paint.ANTI_ALIAS_FLAG).apply { color = Color.rgb(255, 82, 82); style = Paint.Style.FILL }
    private val box = Paint().apply {
        color = Color.argb(160, 255, 255, 255); style = Paint.Style.STROKE; strokeWidth = 2f
    }

    fun show(result: EngineResult?, fill: Boolean) {
        this.result = result
        this.fill = fill
        invalidate()
    }

    override fun onDraw(canvas: Canvas) {
        super.onDraw(canvas)
        val r = result ?: return
        val sx = width.toFloat() / r.imageWidth
        val sy = height.toFloat() / r.imageHeight
        val s = if (fill) max(sx, sy) else min(sx, sy)
        val ox = (width - r.imageWidth * s) / 2f
        val oy = (height - r.imageHeight * s) / 2f
        fun x(v: Float) = ox + v * s
        fun y(v: Float) = oy + v * s

        val reg = r.region
        canvas.drawRect(x(reg.cx - reg.width / 2), y(reg.cy - reg.height / 2),
            x(reg.cx + reg.width / 2), y(reg.cy + reg.height / 2), box)

        r.pose?.let { pose ->
            val kps = pose.keypoints
            for (edge in pose.skeleton.edges()) {
                val a = kps[edge[0]]
                val b = kps[edge[1]]
                if (a.score >= minScore && b.score >= minScore) {
                    canvas.drawLine(x(a.x), y(a.y), x(b.x), y(b.y), bone)
                }
            }
            for (k in kps) {
                if (k.score >= minScore) canvas.drawCircle(x(k.x), y(k.y), 8f, joint)
            }
        }
        r.mesh?.let { mesh ->
            val v = mesh.projectedVertices()
            var i = 0
            while (i + 1 < v.size) {
                if (!v[i].isNaN()) canvas.drawPoint(x(v[i]), y(v[i + 1]), vertex)
                i += 2
            }
            val l = mesh.landmarks()
            i = 0
            while (i + 1 < l.size) {
                canvas.drawCircle(x(l[i]), y(l[i + 1]), 5f, landmark)
                i += 2
            }
        }
    }
}
