"""The FACS action-unit catalogue and the mimetic-muscle table, as data.

Two tables, both plain dataclass literals so they read like the reference tables they come from
(``shared/reference/facs-and-clinic.md`` §1-2; FACS 2002 manual; Ozel's FACS cheat sheets; py-feat's AU reference):

- :data:`AUS`: one :class:`ActionUnit` per AU: FACS name, muscles, innervation (facial-nerve branches with weights,
  or the non-facial nerve), the MediaPipe blendshapes and landmark measures that estimate it, and the method notes
  and known limits (also in ``docs/aus.md``);
- :data:`MUSCLES`: one :class:`Muscle` per mimetic muscle: Latin and plain name, the facial-nerve branches that
  supply it (weights), and the AUs whose intensity signals its activity (weights).

Innervation weights are evidence weights, not fractions: 1.0 = the branch named first by the anatomy sources,
0.5 = a secondary / commonly co-supplying branch (the zygomatic and buccal branches form a plexus and vary a lot
between people), 0.25 = a minor contribution named by some texts.

No code here reads images; :mod:`mimetic.facs.estimate` and :mod:`mimetic.facs.muscles` read these tables.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The five branches of the facial nerve (VII), from top to bottom.
BRANCHES = ("temporal", "zygomatic", "buccal", "marginal_mandibular", "cervical")


@dataclass(frozen=True)
class ActionUnit:
    number: int
    name: str  # FACS name
    muscles: tuple[str, ...]  # keys of MUSCLES (empty when the AU is a relaxation or not a mimetic muscle)
    latin: str  # the muscle(s) as FACS / anatomy texts name them
    plain: str  # what it does, in plain words
    branches: dict[str, float]  # facial-nerve branch -> weight (empty when not facial nerve)
    nerve: str = "facial (VII)"  # or the non-facial nerve
    facial_nerve: bool = True
    blendshapes: tuple[str, ...] = ()  # MediaPipe blendshapes used (person's left, right where sided)
    measures: tuple[str, ...] = ()  # landmark measures used (names of mimetic.face.measures.REGISTRY)
    method: str = ""
    limits: str = ""
    per_frame: bool = True  # False: needs time (a video), not estimated from a single frame
    sided: bool = True  # False: a midline action, left = right = the overall intensity

    @property
    def code(self) -> str:
        return f"AU{self.number:02d}"


@dataclass(frozen=True)
class Muscle:
    key: str
    latin: str
    plain: str
    branches: dict[str, float]  # facial-nerve branch -> weight; empty for a non-facial muscle
    aus: dict[str, float]  # AU code -> how strongly that AU's intensity signals this muscle (0..1)
    nerve: str = "facial (VII)"
    note: str = ""


_T, _Z, _B, _MM, _C = BRANCHES

AUS: tuple[ActionUnit, ...] = (
    ActionUnit(
        1, "Inner brow raiser", ("frontalis_medial",), "frontalis, pars medialis",
        "raises the inner ends of the brows", {_T: 1.0},
        blendshapes=("browInnerUp",), measures=("brow_inner",),
        method="browInnerUp (one value for both sides) plus the left/right difference of inner-brow height "
               "above the canthal line (landmarks 336/296/285 and 107/66/55) for the side split.",
        limits="browInnerUp is unsided; the side split rests on the landmark brow height. AU1 and AU2 separate "
               "differently depending on the shape of a person's frontalis.",
    ),
    ActionUnit(
        2, "Outer brow raiser", ("frontalis_lateral",), "frontalis, pars lateralis",
        "raises the outer ends of the brows", {_T: 1.0},
        blendshapes=("browOuterUpLeft", "browOuterUpRight"), measures=("brow_outer",),
        method="browOuterUp per side, sharpened by the left/right difference of outer-brow height.",
        limits="Brows raised while looking up can read as AU1+2.",
    ),
    ActionUnit(
        4, "Brow lowerer", ("corrugator_supercilii", "depressor_supercilii", "procerus"),
        "corrugator supercilii, depressor supercilii, procerus",
        "lowers and knits the brows", {_T: 1.0, _Z: 0.5},
        blendshapes=("browDownLeft", "browDownRight"), measures=("brow_inner",),
        method="Mean of browDown (per side, sharpened by the inner-brow height difference) and the inner-brow "
               "height above the canthal line against the population range.",
        limits="browDown rests at 0.6-0.8 on some faces with low, heavy brows and stays near 0 on others even "
               "with knitted brows; brow height at rest is anatomy. Reliable only relative to a baseline.",
    ),
    ActionUnit(
        5, "Upper lid raiser", ("levator_palpebrae_superioris",),
        "levator palpebrae superioris (+ superior tarsal / Müller's muscle)",
        "opens the eye wider than its resting opening", {}, nerve="oculomotor (III); Müller's muscle sympathetic",
        facial_nerve=False, blendshapes=("eyeWideLeft", "eyeWideRight"), measures=("mrd1",),
        method="Mean of eyeWide and MRD1 (upper-lid centre above the iris centre, in iris radii; > 1 means "
               "sclera shows above the iris).",
        limits="eyeWide rarely exceeds 0.05-0.3 in MediaPipe (google-ai-edge/mediapipe#4450); MRD1 depends on "
               "the iris landmarks. Not facial nerve: spared in Bell's palsy.",
    ),
    ActionUnit(
        6, "Cheek raiser", ("orbicularis_oculi_orbital",), "orbicularis oculi, pars orbitalis",
        "raises the cheeks and bags the lower lid (Duchenne smile)", {_Z: 1.0, _T: 0.5},
        blendshapes=("cheekSquintLeft", "cheekSquintRight"), measures=("cheek_height", "lower_lid"),
        method="Geometry: mean of the infra-orbital cheek height (346/347/280/348, 117/118/50/119) and the "
               "lower-lid height relative to the canthal line, against the population range.",
        limits="cheekSquint is always ~0 in MediaPipe, so it is not used. A strong AU12 also pushes the cheeks "
               "up, and AU7 also raises the lower lid: the geometry cannot fully tell them apart.",
    ),
    ActionUnit(
        7, "Lid tightener", ("orbicularis_oculi_palpebral",), "orbicularis oculi, pars palpebralis",
        "tightens and raises the lower lid", {_Z: 1.0, _T: 0.5},
        blendshapes=("eyeSquintLeft", "eyeSquintRight"), measures=(),
        method="eyeSquint per side.",
        limits="eyeSquint rests at 0.3-0.4 and also rises with AU6 (smiles) and in crying.",
    ),
    ActionUnit(
        9, "Nose wrinkler", ("levator_labii_superioris_alaeque_nasi", "procerus"),
        "levator labii superioris alaeque nasi", "wrinkles the nose and lifts the nostril wings", {_B: 1.0, _Z: 0.5},
        blendshapes=("noseSneerLeft", "noseSneerRight"), measures=("ala_canthus",),
        method="Larger of noseSneer and the shortening of the alar-crease to inner-canthus distance "
               "(358-362, 129-133), corrected for a smile (half the mouth-corner lift is added back).",
        limits="noseSneer is near dead in MediaPipe (#4450). The ala-canthus distance is anatomy at rest and also "
               "shortens in broad smiles; wrinkles (texture) are not used.",
    ),
    ActionUnit(
        10, "Upper lip raiser", ("levator_labii_superioris",), "levator labii superioris (caput infraorbitalis)",
        "raises the upper lip", {_B: 1.0, _Z: 0.5},
        blendshapes=("mouthUpperUpLeft", "mouthUpperUpRight", "mouthSmileLeft", "mouthSmileRight"),
        method="mouthUpperUp minus half of mouthSmile on the same side (a smile lifts the upper lip too).",
        limits="Confused with AU9 and AU11; big open smiles still score a trace.",
    ),
    ActionUnit(
        11, "Nasolabial furrow deepener", ("zygomaticus_minor",), "zygomaticus minor",
        "pulls the lateral upper lip up and out, deepening the nasolabial furrow", {_B: 1.0, _Z: 1.0},
        measures=("upper_lip_lat", "lip_gap"),
        method="Geometry: the lateral upper lip (40/270) above the straight line from the lip top (0) to the "
               "corner, minus 0.17 × the lip gap (opening the mouth bends the lip the same way).",
        limits="No blendshape; fold depth is not visible to 2-D landmarks. Experimental: trust it only relative "
               "to a baseline.",
    ),
    ActionUnit(
        12, "Lip corner puller", ("zygomaticus_major",), "zygomaticus major",
        "pulls the mouth corners up and out (smile)", {_Z: 1.0, _B: 1.0},
        blendshapes=("mouthSmileLeft", "mouthSmileRight"), measures=("commissure_height",),
        method="Weighted mean (0.6/0.4) of mouthSmile (sharpened by the corner-height difference) and the "
               "corner height above the mouth centre.",
        limits="mouthSmile leaks across sides (a one-sided corner lift raises the other side's value by ~70 %), "
               "hence the geometric side split. Crying faces with stretched, raised corners score AU12 too.",
    ),
    ActionUnit(
        14, "Dimpler", ("buccinator",), "buccinator", "tightens the mouth corners inward, dimpling", {_B: 1.0},
        blendshapes=("mouthDimpleLeft", "mouthDimpleRight"), method="mouthDimple per side.",
        limits="A weak channel (rarely above 0.2). Unilateral 12+14 is the contempt pattern.",
    ),
    ActionUnit(
        15, "Lip corner depressor", ("depressor_anguli_oris",), "depressor anguli oris (triangularis)",
        "pulls the mouth corners down", {_MM: 1.0, _C: 0.25},
        blendshapes=("mouthFrownLeft", "mouthFrownRight"), measures=("commissure_height",),
        method="Mean of mouthFrown and the corner depression below the mouth centre.",
        limits="Many faces have down-turned corners at rest.",
    ),
    ActionUnit(
        16, "Lower lip depressor", ("depressor_labii_inferioris",), "depressor labii inferioris",
        "pulls the lower lip down", {_MM: 1.0},
        blendshapes=("mouthLowerDownLeft", "mouthLowerDownRight"), method="mouthLowerDown per side.",
        limits="Rises in open-mouth smiles that show the lower teeth.",
    ),
    ActionUnit(
        17, "Chin raiser", ("mentalis",), "mentalis", "pushes the chin boss and lower lip up", {_MM: 1.0},
        blendshapes=("mouthShrugLower",), measures=("chin",),
        method="mouthShrugLower; with a baseline also the shortening of lower-lip-to-menton (17-152).",
        limits="Unsided blendshape (left = right). The chin distance is anatomy without a baseline.",
        sided=False,
    ),
    ActionUnit(
        18, "Lip pucker", ("incisivii_labii", "orbicularis_oris"),
        "incisivii labii superioris et inferioris (orbicularis oris accessory)", "pushes the lips forward, pursed",
        {_B: 1.0, _MM: 1.0}, blendshapes=("mouthPucker",), method="mouthPucker.", limits="Unsided.", sided=False,
    ),
    ActionUnit(
        20, "Lip stretcher", ("risorius", "platysma"), "risorius (with platysma)",
        "stretches the lips sideways", {_B: 1.0, _MM: 0.5, _C: 0.5},
        blendshapes=("mouthStretchLeft", "mouthStretchRight"), method="mouthStretch per side.",
        limits="Also rises somewhat in broad smiles.",
    ),
    ActionUnit(
        22, "Lip funneler", ("orbicularis_oris",), "orbicularis oris", "funnels the lips outward",
        {_B: 1.0, _MM: 1.0}, blendshapes=("mouthFunnel",), method="mouthFunnel.", limits="Unsided.", sided=False,
    ),
    ActionUnit(
        23, "Lip tightener", ("orbicularis_oris",), "orbicularis oris",
        "tightens and narrows the red of the lips", {_B: 1.0, _MM: 1.0}, measures=("vermilion", "lip_gap"),
        method="Geometry: thinness of the vermilion at the midline (0-13 plus 14-17), penalised by the lip gap.",
        limits="No blendshape. Thin lips at rest look like AU23: trust it only relative to a baseline. "
               "Not told apart from AU28 (rolled-in lips also hide the vermilion).",
        sided=False,
    ),
    ActionUnit(
        24, "Lip pressor", ("orbicularis_oris",), "orbicularis oris", "presses the closed lips together",
        {_B: 1.0, _MM: 1.0}, blendshapes=("mouthPressLeft", "mouthPressRight"), method="mouthPress per side.",
        limits="Some faces rest at 0.5-0.65 (a habitual firm mouth).",
    ),
    ActionUnit(
        25, "Lips part", ("depressor_labii_inferioris", "orbicularis_oris"),
        "depressor labii inferioris, or relaxation of mentalis / orbicularis oris", "parts the lips",
        {_MM: 1.0, _B: 0.5}, measures=("lip_gap",),
        method="Geometry: inner lip gap (13-14) in IOD units.", limits="Unsided.", sided=False,
    ),
    ActionUnit(
        26, "Jaw drop", (), "masseter relaxed; temporalis and internal pterygoid relaxed",
        "the jaw drops (relaxation)", {}, nerve="trigeminal, mandibular division (V3)", facial_nerve=False,
        blendshapes=("jawOpen",), method="jawOpen; set to 0 when AU27 is scored (FACS scores 27 instead of 26).",
        limits="Not facial nerve: a relaxation of the muscles of mastication, so it activates no muscle here.",
        sided=False,
    ),
    ActionUnit(
        27, "Mouth stretch", (), "pterygoids, digastric", "the jaw is pulled wide open", {},
        nerve="trigeminal V3 (anterior digastric; posterior belly VII)", facial_nerve=False,
        blendshapes=("jawOpen",), measures=("lip_gap",),
        method="Mean of a very large lip gap (≥ 0.6 IOD) and a very high jawOpen.",
        limits="Not a facial-nerve signal.", sided=False,
    ),
    ActionUnit(
        28, "Lip suck", ("orbicularis_oris",), "orbicularis oris", "sucks the lips in over the teeth",
        {_B: 1.0, _MM: 1.0}, blendshapes=("mouthRollUpper", "mouthRollLower"),
        method="Larger of mouthRollUpper and mouthRollLower.", limits="Unsided.", sided=False,
    ),
    ActionUnit(
        43, "Eyes closed", ("orbicularis_oculi_palpebral",),
        "relaxation of levator palpebrae superioris; orbicularis oculi, pars palpebralis",
        "closes the eye", {_Z: 1.0, _T: 0.5}, nerve="facial (VII) with oculomotor (III) relaxing",
        blendshapes=("eyeBlinkLeft", "eyeBlinkRight"), measures=("eye_aperture",),
        method="Mean of eyeBlink and the eye aperture (lid gap ÷ eye width, three lid pairs).",
        limits="Looking down lowers the upper lid and reads as a trace of AU43. Lagophthalmos (failure to close) "
               "shows as a missing AU43 on the palsied side.",
    ),
    ActionUnit(
        45, "Blink", ("orbicularis_oculi_palpebral",), "as AU43, brief", "a brief closure of both eyes",
        {_Z: 1.0, _T: 0.5}, nerve="facial (VII) with oculomotor (III) relaxing",
        blendshapes=("eyeBlinkLeft", "eyeBlinkRight"), measures=("eye_aperture",),
        method="Not estimated per frame: a blink is AU43 that lasts a short time (a video timeline).",
        limits="Needs time.", per_frame=False,
    ),
    ActionUnit(
        46, "Wink", ("orbicularis_oculi_palpebral",), "relaxation of LPS; orbicularis oculi, pars palpebralis "
        "(unilateral)", "a brief closure of one eye", {_Z: 1.0, _T: 0.5},
        nerve="facial (VII) with oculomotor (III) relaxing", blendshapes=("eyeBlinkLeft", "eyeBlinkRight"),
        measures=("eye_aperture",),
        method="Not estimated per frame: a wink is a brief one-sided AU43 (a video timeline).",
        limits="Needs time.", per_frame=False,
    ),
)

MUSCLES: tuple[Muscle, ...] = (
    Muscle("frontalis_medial", "frontalis, pars medialis", "forehead, inner part", {_T: 1.0}, {"AU01": 1.0}),
    Muscle("frontalis_lateral", "frontalis, pars lateralis", "forehead, outer part", {_T: 1.0}, {"AU02": 1.0}),
    Muscle("corrugator_supercilii", "corrugator supercilii", "brow knitter", {_T: 1.0, _Z: 0.5}, {"AU04": 1.0}),
    Muscle("depressor_supercilii", "depressor supercilii", "inner-brow depressor", {_T: 1.0, _Z: 0.5},
           {"AU04": 0.8}),
    Muscle("procerus", "procerus (depressor glabellae)", "between the brows, over the nasal bridge",
           {_T: 0.5, _Z: 0.5, _B: 0.5}, {"AU04": 0.7, "AU09": 0.5},
           note="innervation described variously as temporal/zygomatic or buccal"),
    Muscle("levator_palpebrae_superioris", "levator palpebrae superioris", "upper-eyelid lifter", {},
           {"AU05": 1.0}, nerve="oculomotor (III)", note="not a mimetic muscle; spared in facial palsy"),
    Muscle("orbicularis_oculi_orbital", "orbicularis oculi, pars orbitalis", "outer ring around the eye",
           {_Z: 1.0, _T: 0.5}, {"AU06": 1.0}),
    Muscle("orbicularis_oculi_palpebral", "orbicularis oculi, pars palpebralis", "eyelid closer",
           {_Z: 1.0, _T: 0.5}, {"AU07": 1.0, "AU43": 1.0}),
    Muscle("levator_labii_superioris_alaeque_nasi", "levator labii superioris alaeque nasi", "nose-wing lifter",
           {_B: 1.0, _Z: 0.5}, {"AU09": 1.0}),
    Muscle("levator_labii_superioris", "levator labii superioris", "upper-lip lifter", {_B: 1.0, _Z: 0.5},
           {"AU10": 1.0}),
    Muscle("zygomaticus_minor", "zygomaticus minor", "lesser cheekbone muscle", {_B: 1.0, _Z: 1.0},
           {"AU11": 1.0}),
    Muscle("zygomaticus_major", "zygomaticus major", "smile muscle", {_Z: 1.0, _B: 1.0}, {"AU12": 1.0}),
    Muscle("buccinator", "buccinator", "cheek wall", {_B: 1.0}, {"AU14": 1.0}),
    Muscle("depressor_anguli_oris", "depressor anguli oris (triangularis)", "mouth-corner depressor",
           {_MM: 1.0, _C: 0.25}, {"AU15": 1.0}),
    Muscle("depressor_labii_inferioris", "depressor labii inferioris", "lower-lip depressor", {_MM: 1.0},
           {"AU16": 1.0, "AU25": 0.3}),
    Muscle("mentalis", "mentalis", "chin muscle", {_MM: 1.0}, {"AU17": 1.0}),
    Muscle("incisivii_labii", "incisivii labii superioris et inferioris", "lip pursers", {_B: 1.0, _MM: 1.0},
           {"AU18": 1.0}),
    Muscle("risorius", "risorius", "lip-corner stretcher", {_B: 1.0, _MM: 0.5}, {"AU20": 1.0}),
    Muscle("platysma", "platysma", "neck sheet", {_C: 1.0}, {"AU20": 0.5},
           note="AU21 (neck tightener) is not estimated; platysma is seen only through AU20"),
    Muscle("orbicularis_oris", "orbicularis oris", "mouth ring", {_B: 1.0, _MM: 1.0},
           {"AU18": 0.7, "AU22": 1.0, "AU23": 1.0, "AU24": 1.0, "AU28": 1.0}),
)

AU_BY_CODE: dict[str, ActionUnit] = {a.code: a for a in AUS}
MUSCLE_BY_KEY: dict[str, Muscle] = {m.key: m for m in MUSCLES}
#: The AUs that :func:`mimetic.facs.estimate.estimate_aus` reports (single-frame estimable), in AU order.
FRAME_AUS: tuple[str, ...] = tuple(a.code for a in AUS if a.per_frame)


def au(code: str | int) -> ActionUnit:
    """Look an AU up by number or code (``12``, ``"12"``, ``"AU12"``)."""
    if isinstance(code, int) or str(code).isdigit():
        code = f"AU{int(code):02d}"
    return AU_BY_CODE[str(code).upper()]
