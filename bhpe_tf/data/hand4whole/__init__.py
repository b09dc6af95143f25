"""Hand4Whole's training and evaluation data for BinaryHPE / Hand4Whole (docs/DESIGN.md §5.1).

* :mod:`.layout`: the folder layout Hand4Whole's users have, its joint sets and the per-dataset
  supervision rules;
* :mod:`.readers`: Human3.6M (subject json files + NeuralAnnot SMPL-X), MSCOCO (COCO-WholeBody +
  NeuralAnnot), MPII (+ NeuralAnnot), EHF, AGORA (pre-cropped) -> records;
* :mod:`.targets`: Hand4Whole's exact targets of a crop (one code path for real records and the
  synthetic renders of :class:`bhpe_tf.data.synthetic.SyntheticMesh`);
* :mod:`.sources`: the 3D / 2D length-equalised training mix and the validation split in the
  trainer's source protocol;
* :mod:`.fixtures`: small trees in these formats built from the synthetic SMPL-X body (tests,
  and a dry run of a training command without the real datasets).
"""
