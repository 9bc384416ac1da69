"""Every prompt tg_molecule sends, in one place (filled with ``str.format``).

Convention (issue 13): what many calls share comes first and what is
specific to one call last, so llama.cpp's and providers' prefix caches are
reused. The judge's system prompt (``LOSS_INSTRUCTION``) holds the task and
the goals, the same for every molecule of a run; the molecule's report comes
after it, in the user message. The report itself starts with the molecule
and ends with the goals table the program computed.

The loss follows the TextGrad paper's molecule setup: an LLM reads the
docking scores and drug-likeness of a candidate together with the goals and
writes the evaluation that the backward pass turns into feedback on the SMILES.
"""

SMILES_ROLE = "SMILES string of a candidate drug molecule designed to bind the protein target(s) {targets}"

REPORT_ROLE = "docking, drug-likeness and goals report of the candidate molecule"

SIMULATOR_PURPOSE = (
    "Checks the molecule given as a SMILES string and refuses, before docking, one that "
    "carries a structural alert or lies outside the property windows; docks the pH 7.4 form "
    "of the others into the binding site of {targets}{anti_target} with AutoDock Vina (a score "
    "in kcal/mol: more negative means stronger predicted binding) and computes its "
    "drug-likeness: QED (0 to 1, higher is better), synthetic accessibility SA (1 easy to 10 "
    "hard), similarity to the starting molecule and the rule-of-five properties. A table of "
    "the goals, met or missed, ends the report. An invalid or unsupported molecule gives an "
    "ERROR line, a refused one a REJECTED line, that says what to fix in the SMILES."
)
SIMULATOR_ANTI_TARGET = " (and of the anti-target {anti}, where weaker binding is better)"

GOAL_VINA = "Vina docking score at most {value:g} kcal/mol (stronger binding to {target})"
GOAL_SELECTIVITY = (
    "selectivity: Vina score on {target} minus Vina score on the anti-target {anti} at most "
    "{value:g} kcal/mol (binds {target} more strongly than {anti})"
)
GOAL_QED = "QED drug-likeness at least {value:g}"
GOAL_SA = "SA synthetic accessibility score at most {value:g}"
GOAL_SIMILARITY = (
    "Tanimoto similarity to the starting molecule (Morgan fingerprints, radius 2) at least {value:g}"
)
GOAL_WINDOW = "{name} {window}"
GOAL_ALERTS = (
    "no {catalogs} structural alert (a molecule with one is refused before docking)"
)

# The goals table: values, thresholds and met/missed are computed by the program.
GOAL_NAME_VINA = "Vina score on {target} (kcal/mol)"
GOAL_NAME_SELECTIVITY = "selectivity: Vina on {target} minus Vina on {anti} (kcal/mol)"
GOAL_NAME_QED = "QED"
GOAL_NAME_SA = "SA score"
GOAL_NAME_SIMILARITY = "similarity to the starting molecule"
THRESHOLD_AT_MOST = "at most {value:g}"
THRESHOLD_AT_LEAST = "at least {value:g}"
GOALS_TABLE_HEADER = "| goal | value | threshold | status |\n|---|---|---|---|"
GOALS_TABLE_ROW = "| {name} | {value} | {threshold} | {status} |"
GOALS_MET = "Goals met (computed by the program): {met} of {total}."
# One line per molecule in the optimizer's list of molecules already docked.
OUTCOME = "{met} of {total} goals met: {goals}"
OUTCOME_GOAL = "{name} {value} ({status})"

LOSS_INSTRUCTION = (
    "You are an expert medicinal chemist judging a candidate drug molecule designed to bind "
    "{targets}. You receive a report computed for the molecule: its AutoDock Vina docking "
    "scores, its QED drug-likeness, synthetic accessibility and rule-of-five properties, and a "
    "table of the goals with their values and whether each is met, computed by the program "
    "(take them as given); or a REJECTED line (refused before docking by the filters) or an "
    "ERROR line when it could not be evaluated.\n\n"
    "The goals are:\n{goals}\n\n"
    "The table already says which goals are met and by how much the others are missed: do "
    "not recompute or restate those numbers. Say only why the molecule misses its goals and "
    "which structural changes are most likely to close the gaps without losing the goals "
    "already met (for example adding or removing "
    "rings, hydrogen-bond donors or acceptors, lipophilic groups or basic amines, or reducing "
    "size or flexibility). If the report is REJECTED, name the offending group or property "
    "and how to avoid it; if it is an ERROR, explain what is wrong with the SMILES and how to "
    "write a valid one. Be concise and specific."
)

SMILES_CONSTRAINT = (
    "The improved variable must be exactly one valid SMILES string of a single neutral, "
    "closed-shell organic molecule: elements {elements} only, no salts, metals or '.' "
    "separators, at most {max_heavy_atoms} heavy atoms and {max_rotatable_bonds} rotatable "
    "bonds. Write only the SMILES, with no words, quotes or formatting around it."
)
FILTERS_ALERTS = "The molecule must not contain a {catalogs} structural alert."
FILTERS_WINDOWS = "Its properties must lie in these windows: {windows}."
FILTERS_NONE = "The molecule must be a valid SMILES the program can check."

# The report of one candidate under a goal set (candidates.Candidate.to_text).
CANDIDATE_MOLECULE = "Molecule: {smiles}"
CANDIDATE_ERROR = "ERROR: {error}"
CANDIDATE_REJECTED = "REJECTED: {reason}"
CANDIDATE_VINA = "Vina docking score on {target}{role}: {vina:.2f} kcal/mol (lower is stronger binding)"
ANTI_TARGET_ROLE = " (the anti-target: weaker binding there is better)"
CANDIDATE_DOCKING_FAILED = "Docking on {target}{role} failed: {error}"
CANDIDATE_DRUG_LIKENESS = (
    "QED drug-likeness: {qed:.3f} (0 to 1, higher is better); SA synthetic accessibility: "
    "{sa:.2f} (1 easy to 10 hard)"
)
CANDIDATE_PROPERTIES = (
    "MW {mw:.1f}, logP {logp:.2f}, TPSA {tpsa:.1f}, H-bond donors {hbd}, acceptors {hba}, "
    "rotatable bonds {rotatable_bonds}, heavy atoms {heavy_atoms}"
)
CANDIDATE_SIMILARITY = (
    "Tanimoto similarity to the starting molecule: {similarity:.2f} (Morgan fingerprints, radius 2)"
)
CANDIDATE_NOTE = "Note: {note}"
EXEMPT_NOTE = "starting molecule, docked although a proposal like it would be refused: {reasons}"

# The menu of RDKit-checked edits shown to the optimizer (edits.py), after its request: small
# models follow what they read last, and copying a line is what they do reliably.
EDIT_MENU = (
    "Edits of the molecule above, each checked by the program (a valid SMILES that passes the "
    "filters), with its QED and molecular weight (its Vina score is known only once docked):\n"
    "{edits}\n"
    "Choose the edit that best answers the feedback (or combine or adapt them) and send the SMILES "
    "of the new molecule between the tags; copying one of these SMILES exactly is the safest."
)
EDIT_ITEM = "- {description}: {smiles} (QED {qed:.2f}, MW {mw:.0f})"

# Valid SMILES of approved drugs, shown as examples of the notation (--examples).
DRUG_EXAMPLES = (
    "CC(C)Cc1ccc(C(C)C(=O)O)cc1",  # ibuprofen
    "CNCCC(Oc1ccc(C(F)(F)F)cc1)c1ccccc1",  # fluoxetine
    "CN1C(=O)CN=C(c2ccccc2)c2cc(Cl)ccc21",  # diazepam
    "O=C(CCCN1CCC(O)(c2ccc(Cl)cc2)CC1)c1ccc(F)cc1",  # haloperidol
    "CC(C)NCC(O)COc1cccc2ccccc12",  # propranolol
    "Clc1cccc(N2CCN(CCCCOc3ccc4c(c3)NC(=O)CC4)CC2)c1Cl",  # aripiprazole
)
