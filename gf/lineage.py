"""Lineage: a group's ancestry as a tree (``gf lineage``)."""

from gf import store


def ancestry(conn, group_id, depth):
    """``{"group", "origin", "generation", "breeder", "parents": [...]}`` down to ``depth`` levels.

    A group reached a second time is shown once more without its parents (``"seen": true``),
    so inbred lineages stay small.
    """
    seen = set()

    def node(group, level):
        origin, generation, breeder = conn.execute(
            "SELECT origin, generation, breeder FROM groups WHERE id = ?", (group,)
        ).fetchone()
        item = {"group": group, "origin": origin, "generation": generation, "breeder": breeder, "parents": []}
        if group in seen:
            item["seen"] = True
            return item
        seen.add(group)
        if level < depth:
            item["parents"] = [node(parent, level + 1) for parent in store.group_parents(conn, group)]
        return item

    return node(group_id, 0)


def draw(tree, prefix="", last=True, root=True):
    """Text lines of an :func:`ancestry` tree, drawn with box characters."""
    label = f"group {tree['group']}"
    if tree["generation"] is not None:
        label += f" (generation {tree['generation']}, {tree['breeder']})"
    else:
        label += f" ({tree['origin']})"
    if tree.get("seen"):
        label += " [shown above]"
    lines = [label if root else f"{prefix}{'└── ' if last else '├── '}{label}"]
    child_prefix = "" if root else prefix + ("    " if last else "│   ")
    for index, parent in enumerate(tree["parents"]):
        lines += draw(parent, child_prefix, index == len(tree["parents"]) - 1, False)
    return lines
