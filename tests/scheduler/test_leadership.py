"""Only one process runs the jobs; another takes over when the leader stops renewing."""


from scheduler.runner import LEASE_SECONDS, Leadership
from tests.support.driver import Driver


async def test_second_process_waits_while_the_first_holds_the_lease(driver: Driver) -> None:
    first = Leadership(driver.sessions, clock=lambda: driver.clock.now)
    second = Leadership(driver.sessions, clock=lambda: driver.clock.now)

    assert [await first.hold(), await second.hold(), await first.hold()] == [True, False, True]


async def test_lease_passes_on_when_the_leader_dies(driver: Driver) -> None:
    first = Leadership(driver.sessions, clock=lambda: driver.clock.now)
    second = Leadership(driver.sessions, clock=lambda: driver.clock.now)
    await first.hold()

    driver.clock.advance(seconds=LEASE_SECONDS + 1)

    assert [await second.hold(), await first.hold()] == [True, False]


async def test_clean_shutdown_hands_over_at_once(driver: Driver) -> None:
    first = Leadership(driver.sessions, clock=lambda: driver.clock.now)
    second = Leadership(driver.sessions, clock=lambda: driver.clock.now)
    await first.hold()

    await first.release()
    driver.clock.advance(seconds=1)

    assert await second.hold() is True
