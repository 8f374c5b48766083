"""Writes tiny_tales.txt: short fables from a small grammar, seeded, so the file is the same
on every machine. The text is original (written by this script for Studio) and dedicated to the
public domain (CC0): it ships so the text examples train offline on first start.

    python resources/data/make_tiny_tales.py      # rewrites resources/data/tiny_tales.txt
"""

import random
from pathlib import Path

ANIMALS = ["fox", "owl", "rabbit", "bear", "mouse", "frog", "duck", "cat", "wolf", "hedgehog", "goat", "crow"]
ADJECTIVES = ["little", "old", "clever", "shy", "brave", "sleepy", "hungry", "kind", "proud", "curious"]
PLACES = ["by the river", "in the deep wood", "under a hill", "near the old mill", "on a green meadow",
          "at the edge of the village", "in a hollow tree", "beside a quiet pond"]
HABITS = ["gathered berries", "counted the stars", "sang to the moon", "looked for shiny stones",
          "baked bread", "watched the clouds", "swept the path", "told stories to the wind"]
WANTS = ["a warm coat for the winter", "a friend to talk to", "the biggest apple in the orchard",
         "a boat to cross the river", "a song nobody had heard", "a map of the whole wood"]
PLANS = [("climbed the tallest tree", "saw the whole wood below"),
         ("walked all night", "reached the far side of the hill"),
         ("asked every neighbour", "learned something from each of them"),
         ("built a small raft", "floated gently across the water"),
         ("waited by the door", "heard a knock at last")]
LESSONS = ["Kindness is never wasted.", "Slow and steady is still a way to go.",
           "A friend in need is a friend indeed.", "Look before you leap.",
           "Those who share have more.", "Every long road begins with one step.",
           "Pride goes before a fall.", "Patience brings its own reward."]


def a(word):
    return ("an " if word[0] in "aeiou" else "a ") + word


def tale(rng):
    hero, friend = rng.sample(ANIMALS, 2)
    adj, adj2 = rng.sample(ADJECTIVES, 2)
    plan, result = rng.choice(PLANS)
    want = rng.choice(WANTS)
    title = f"The {adj.capitalize()} {hero.capitalize()} and the {friend.capitalize()}"
    lines = [
        title,
        "",
        f"Once upon a time there was {a(adj)} {hero} who lived {rng.choice(PLACES)}. "
        f"Every morning the {hero} {rng.choice(HABITS)}, and every evening the {hero} {rng.choice(HABITS)}.",
        f"One day the {hero} wanted {want}. So the {hero} {plan}, and at last the {hero} {result}.",
        f"There the {hero} met {a(adj2)} {friend}. \"Where are you going?\" asked the {friend}.",
        f"\"I am looking for {want},\" said the {hero}. The {friend} thought for a while and said, "
        f"\"Then I will help you, if you help me {rng.choice(['home', 'across the river', 'find my way', 'carry this'])}.\"",
        f"And so they went on together, and the {hero} found {want}, and the {friend} found a friend.",
        f"Moral: {rng.choice(LESSONS)}",
        "",
        "",
    ]
    return "\n".join(lines)


def main():
    rng = random.Random(15)
    text = "".join(tale(rng) for _ in range(250))
    Path(__file__).with_name("tiny_tales.txt").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
