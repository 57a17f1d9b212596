"""The agent engine: every prospect, customer and call a SimPy process, in the story's words.

Read it top to bottom: :mod:`sim.agents.simulation` keeps the calendar (a month starts, the
month's prospects arrive, the month passes, the bills fall due, the purchasers join, the
books close), :mod:`sim.agents.prospect` walks one prospect's journey visit by visit,
:mod:`sim.agents.customer` lives one customer's service, month by month, and makes its calls
to staffed touchpoints, whose agents are a SimPy resource (:mod:`sim.agents.desk`). It takes
the same :class:`sim.inputs.parameters.Parameters` as the compiled engine
(:mod:`sim.engine`), draws every random number at the same address of the same counter-based
stream (:mod:`sim.agents.draws`) and keeps the same books
(:class:`sim.engine.results.Recorder`), so that both return the same results: the compiled
engine is the month-stepped, compiled twin of these agents (tests/sim/agents).
"""
