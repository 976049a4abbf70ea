"""The google-genai batch sample (client.batches.create), pointed at the emulator's REST API.

Not run by CI (it needs `pip install google-genai`). Start an emulator that prints its REST URL
and a token, then run this with them:

    cargo run --features emulator --bin vertex-batch-emulator -- --port 8080 --print-token
    EMULATOR=http://127.0.0.1:8080 TOKEN=ya29.emulator-... python3 scripts/genai_batch_sample.py

Everything below the client is the published sample, unchanged but for a shorter poll interval.
"""

import os
import time

from google import genai
from google.genai.types import CreateBatchJobConfig, HttpOptions, JobState
from google.oauth2.credentials import Credentials

# The only lines that differ from talking to Vertex AI: where, and which token.
client = genai.Client(
    vertexai=True,
    project="my-project",
    location="us-central1",
    credentials=Credentials(token=os.environ["TOKEN"]),
    http_options=HttpOptions(api_version="v1", base_url=os.environ["EMULATOR"]),
)

# TODO(developer): Update and un-comment below line
# output_uri = "gs://your-bucket/your-prefix"
output_uri = "gs://my-bucket/genai-batch"

# See the documentation: https://googleapis.github.io/python-genai/genai.html#genai.batches.Batches.create
job = client.batches.create(
    # To use a tuned model, set the model param to your tuned model using the following format:
    # model="projects/{PROJECT_ID}/locations/{LOCATION}/models/{MODEL_ID}
    model="gemini-2.5-flash",
    # Source link: https://storage.cloud.google.com/cloud-samples-data/batch/prompt_for_batch_gemini_predict.jsonl
    src="gs://cloud-samples-data/batch/prompt_for_batch_gemini_predict.jsonl",
    config=CreateBatchJobConfig(dest=output_uri),
)
print(f"Job name: {job.name}")
print(f"Job state: {job.state}")

# See the documentation: https://googleapis.github.io/python-genai/genai.html#genai.types.BatchJob
completed_states = {
    JobState.JOB_STATE_SUCCEEDED,
    JobState.JOB_STATE_FAILED,
    JobState.JOB_STATE_CANCELLED,
    JobState.JOB_STATE_PAUSED,
}

while job.state not in completed_states:
    time.sleep(1)
    job = client.batches.get(name=job.name)
    print(f"Job state: {job.state}")

for listed in client.batches.list(config={"page_size": 10}):
    print(f"Listed: {listed.name} {listed.state}")
