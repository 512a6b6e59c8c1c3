"""The chapter's 25 figures, drawn by code.

``python -m figures`` regenerates every figure, its thumbnail and the index page ``README.md``;
``python -m figures --out DIR`` writes them to another folder (the tests compare the two).
One module per section (``sec37`` … ``sec42``) registers its drawing functions with
``common.figure``; ``index.INDEX`` lists the file names and captions in the book's order.
"""
