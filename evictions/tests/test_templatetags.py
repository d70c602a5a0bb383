"""Numbers of the eviction pages in words."""

from __future__ import annotations

import pytest

from evictions.templatetags.eviction_words import form_words, minutes_words


@pytest.mark.parametrize(
    ("minutes", "words"),
    [(10080, "7 days"), (2880, "2 days"), (1440, "24 hours"), (120, "2 hours"), (90, "90 minutes"), (60, "60 minutes"),
     (1, "1 minute"), (None, "")],
)  # fmt: skip
def test_minutes_words(minutes, words):
    assert minutes_words(minutes) == words


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (
            "cannot delete DaemonSet-managed Pods (use ignore_daemonsets): kube-system/proxy",
            "cannot delete DaemonSet-managed Pods (use “Ignore DaemonSet-managed pods”): kube-system/proxy",
        ),
        (
            "emptyDir volume: the drain refuses without delete_emptydir_data",
            "emptyDir volume: the drain refuses without “Delete emptyDir data”",
        ),
        (
            "no controller; nothing will replace it (force)",
            "no controller; nothing will replace it (“Force: also pods without a controller”)",
        ),
        # Pod and namespace names that contain an option's name are left as they are.
        (
            "cannot delete Pods that declare no controller (use force): force/force-app",
            "cannot delete Pods that declare no controller (use “Force: also pods without a controller”): "
            "force/force-app",
        ),
        ("managed by ReplicaSet force-7d9", "managed by ReplicaSet force-7d9"),
        ("", ""),
        (None, ""),
    ],
)
def test_form_words_names_the_drain_options_as_the_form_does(text, words):
    assert form_words(text) == words
