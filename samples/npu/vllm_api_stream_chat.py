from ais_bench.benchmark.models import VLLMCustomAPIChatStream

models = [
    dict(
        attr="service",
        type=VLLMCustomAPIChatStream,
        abbr='vllm-api-stream-chat',
        path="",
        model="",
        request_rate = 0,
        retry = 2,
        host_ip = "localhost",
        host_port = 1025,
        max_out_len = 512,
        batch_size=1000,
        trust_remote_code=False,
        generation_kwargs = dict(
            temperature = 0.5,
        )
    )
]
