# The image of the cohort server and its graders (compose.yaml builds it once, both use it).
FROM python:3.11-slim
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends git make && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . /app
RUN pip install --no-cache-dir torch==2.13.0 && pip install --no-cache-dir -e '.[labs]'
RUN useradd --create-home aipath
USER aipath
EXPOSE 8780
