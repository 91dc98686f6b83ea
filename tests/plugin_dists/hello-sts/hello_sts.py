import sts


class Hello(sts.Task):
    def __init__(self, who: str = "world"):
        super().__init__()
        self.who = who

    async def run(self):
        print(f"hello {self.who}")


@sts.hookimpl
def sts_register_task_types(register):
    register("hello", Hello)
